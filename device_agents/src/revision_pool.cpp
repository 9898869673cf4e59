#include "hil/device_agents/revision_pool.h"

#include <algorithm>

namespace hil::device_agents {

RevisionPool::RevisionPool(uint32_t max_per_revision, Compile compile)
    : max_per_revision_(std::max(1u, max_per_revision)), compile_(std::move(compile)) {}

RevisionPool::Checkout::Checkout(RevisionPool* pool, std::string sha, uint64_t generation,
                                 std::unique_ptr<dual_engine::CompiledRevision> revision)
    : pool_(pool), sha_(std::move(sha)), generation_(generation), revision_(std::move(revision)) {}

RevisionPool::Checkout::Checkout(Checkout&& other) noexcept
    : pool_(other.pool_),
      sha_(std::move(other.sha_)),
      generation_(other.generation_),
      revision_(std::move(other.revision_)) {
  other.pool_ = nullptr;
}

RevisionPool::Checkout::~Checkout() {
  if (pool_ && revision_) pool_->give_back(sha_, generation_, std::move(revision_));
}

RevisionPool::Checkout RevisionPool::checkout(const std::string& revision_sha) {
  std::unique_lock lock(mu_);
  uint64_t generation = 0;
  for (;;) {
    auto [it, added] = entries_.try_emplace(revision_sha);
    Entry& entry = it->second;
    if (added) entry.generation = next_generation_++;
    if (!entry.idle.empty()) {
      auto revision = std::move(entry.idle.back());
      entry.idle.pop_back();
      entry.in_use++;
      return Checkout(this, revision_sha, entry.generation, std::move(revision));
    }
    if (entry.in_use < max_per_revision_) {
      entry.in_use++;  // reserved while it compiles, so the bound holds
      generation = entry.generation;
      ++compilations_;
      break;
    }
    returned_.wait(lock);
  }
  lock.unlock();
  try {
    return Checkout(this, revision_sha, generation, compile_(revision_sha));
  } catch (...) {
    give_back(revision_sha, generation, nullptr);
    throw;
  }
}

void RevisionPool::give_back(const std::string& sha, uint64_t generation,
                             std::unique_ptr<dual_engine::CompiledRevision> revision) {
  std::unique_ptr<dual_engine::CompiledRevision> dropped;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(sha);
    if (it != entries_.end() && it->second.generation == generation) {
      it->second.in_use--;
      if (revision) it->second.idle.push_back(std::move(revision));
    } else {
      dropped = std::move(revision);  // the revision was evicted while in use
    }
  }
  returned_.notify_all();
}

void RevisionPool::evict(const std::string& revision_sha) {
  std::vector<std::unique_ptr<dual_engine::CompiledRevision>> dropped;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(revision_sha);
    if (it == entries_.end()) return;
    dropped = std::move(it->second.idle);
    entries_.erase(it);
  }
  returned_.notify_all();
}

RevisionPool::Counts RevisionPool::counts(const std::string& revision_sha) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(revision_sha);
  if (it == entries_.end()) return {};
  return {static_cast<uint32_t>(it->second.idle.size()), it->second.in_use};
}

uint64_t RevisionPool::compilations() const {
  std::lock_guard lock(mu_);
  return compilations_;
}

}  // namespace hil::device_agents
