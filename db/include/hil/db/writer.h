// The one writer: a thread that owns the read-write connection and runs
// queued jobs in batched transactions (group commit). Each job runs inside a
// savepoint, so one failing job is rolled back alone and the batch commits.
// Callbacks run on the writer thread after the batch holding their job commits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "hil/db/store.h"

namespace hil::db {

struct WriterOptions {
  size_t max_batch = 1024;                    // jobs per transaction
  std::chrono::microseconds max_delay{2000};  // wait for more jobs before committing
  size_t max_queue = 65536;                   // back-pressure: submit blocks beyond this
};

class Writer {
 public:
  using Job = std::function<void(Store&)>;
  // Called after commit; `ok` is false when the job threw (error has the message).
  using Done = std::function<void(bool ok, const std::string& error)>;

  explicit Writer(const std::filesystem::path& path, WriterOptions options = {});
  ~Writer();  // drains the queue, then stops
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void submit(Job job, Done done = {});
  // Runs a job and waits for its commit; rethrows its exception.
  void run_sync(const Job& job);
  // Waits until every job submitted so far has committed.
  void flush();

  uint64_t committed_batches() const;
  uint64_t committed_jobs() const;

 private:
  void loop();

  struct Item {
    Job job;
    Done done;
  };
  std::filesystem::path path_;
  WriterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_work_, cv_space_, cv_flushed_;
  std::deque<Item> queue_;
  bool stop_ = false;
  uint64_t submitted_ = 0, finished_ = 0, batches_ = 0;
  std::string open_error_;
  bool opened_ = false;
  std::thread thread_;
};

}  // namespace hil::db
