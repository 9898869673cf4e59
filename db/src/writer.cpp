#include "hil/db/writer.h"

#include <exception>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace hil::db {

Writer::Writer(const std::filesystem::path& path, WriterOptions options)
    : path_(path), options_(options) {
  thread_ = std::thread([this] { loop(); });
  std::unique_lock lock(mu_);
  cv_flushed_.wait(lock, [&] { return opened_; });
  if (!open_error_.empty()) {
    lock.unlock();
    thread_.join();
    throw DbError(open_error_);
  }
}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::submit(Job job, Done done) {
  std::unique_lock lock(mu_);
  cv_space_.wait(lock, [&] { return queue_.size() < options_.max_queue || stop_; });
  queue_.push_back({std::move(job), std::move(done)});
  ++submitted_;
  lock.unlock();
  cv_work_.notify_one();
}

void Writer::run_sync(const Job& job) {
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  std::exception_ptr error;
  submit(
      [&](Store& s) {
        try {
          job(s);
        } catch (...) {
          error = std::current_exception();
          throw;
        }
      },
      [&](bool, const std::string&) {
        std::lock_guard l(m);
        finished = true;
        cv.notify_all();
      });
  std::unique_lock l(m);
  cv.wait(l, [&] { return finished; });
  if (error) std::rethrow_exception(error);
}

void Writer::flush() {
  std::unique_lock lock(mu_);
  uint64_t target = submitted_;
  cv_flushed_.wait(lock, [&] { return finished_ >= target; });
}

uint64_t Writer::committed_batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}
uint64_t Writer::committed_jobs() const {
  std::lock_guard lock(mu_);
  return finished_;
}

void Writer::loop() {
  std::unique_ptr<Database> db;
  std::unique_ptr<Store> store;
  try {
    db = std::make_unique<Database>(path_, OpenMode::kReadWrite);
    // Every job runs in a savepoint, so each statement that needs a
    // statement journal (a multi-row INSERT: an eval's metrics) copies the
    // pages it changes into the sub-journal, kept until the job's savepoint
    // ends. On disk that journal spills to a temp file past 64 KiB, which
    // cost about a quarter of the summary-only ingest rate; in memory it is
    // a page copy, grows with one job's changes and is freed with its
    // savepoint. (The writer's temp tables and sorts live in memory too.)
    db->exec("PRAGMA temp_store = MEMORY");
    // Results are acknowledged to boards once their transaction commits, so
    // a commit must survive a power cut: WAL with synchronous=FULL syncs the
    // log at every commit (NORMAL only at checkpoints, and a power cut could
    // lose the last commits). Group commit keeps it to one sync per batch.
    db->exec("PRAGMA synchronous = FULL");
    store = std::make_unique<Store>(*db);
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    open_error_ = e.what();
    opened_ = true;
    cv_flushed_.notify_all();
    return;
  }
  {
    std::lock_guard lock(mu_);
    opened_ = true;
  }
  cv_flushed_.notify_all();

  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_work_.wait(lock, [&] { return !queue_.empty() || stop_; });
      if (queue_.empty() && stop_) return;
      // Group commit: give concurrent producers a moment to add to this batch.
      if (queue_.size() < options_.max_batch && !stop_) {
        cv_work_.wait_for(lock, options_.max_delay,
                          [&] { return queue_.size() >= options_.max_batch || stop_; });
      }
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    cv_space_.notify_all();

    std::vector<std::pair<bool, std::string>> results(batch.size(), {true, ""});
    bool committed = false;
    std::string batch_error;
    try {
      Transaction tx(*db);
      for (size_t i = 0; i < batch.size(); ++i) {
        // Prepared once: a savepoint per job must cost next to nothing.
        db->cached("SAVEPOINT job").run();
        try {
          batch[i].job(*store);
          db->cached("RELEASE job").run();
        } catch (const std::exception& e) {
          db->cached("ROLLBACK TO job").run();
          db->cached("RELEASE job").run();
          results[i] = {false, e.what()};
        }
      }
      tx.commit();
      committed = true;
    } catch (const std::exception& e) {
      batch_error = fmt::format("{}: batch of {} jobs not committed: {}", path_.string(),
                                batch.size(), e.what());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].done) continue;
      if (committed) {
        batch[i].done(results[i].first, results[i].second);
      } else {
        batch[i].done(false, batch_error);
      }
    }
    {
      std::lock_guard lock(mu_);
      finished_ += batch.size();
      batches_ += committed ? 1 : 0;
    }
    cv_flushed_.notify_all();
    batch.clear();
  }
}

}  // namespace hil::db
