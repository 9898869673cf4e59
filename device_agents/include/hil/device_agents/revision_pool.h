// The compiled revisions of one board's slots. A CompiledRevision holds its
// engines' programs (OpenCV networks, or plans loaded on a device), which are
// not for concurrent use, so slots never share one: each eval checks a copy
// out for itself and gives it back when it ends, and the next eval of that
// revision reuses it. A revision has at most `max_per_revision` copies (the
// board's slots: more could never be in use at once); all of them go when
// the revision leaves the blob cache.
//
//   RevisionPool pool(slots, [&](const std::string& sha) { return compile(sha); });
//   {
//     RevisionPool::Checkout revision = pool.checkout(lease.revision_sha());
//     play_eval(*revision, clip, scenario, metrics);
//   }  // back in the pool
//   pool.evict(sha);  // the cache dropped the revision
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hil/dual_engine/runtime.h"

namespace hil::device_agents {

class RevisionPool {
 public:
  using Compile = std::function<std::unique_ptr<dual_engine::CompiledRevision>(
      const std::string& revision_sha)>;

  // `compile` builds a copy of a revision (called without the pool's lock
  // held, so slots compile different revisions at once).
  RevisionPool(uint32_t max_per_revision, Compile compile);
  RevisionPool(const RevisionPool&) = delete;
  RevisionPool& operator=(const RevisionPool&) = delete;

  // One compiled copy, this holder's alone until it is destroyed.
  class Checkout {
   public:
    Checkout(Checkout&& other) noexcept;
    Checkout& operator=(Checkout&&) = delete;
    ~Checkout();
    dual_engine::CompiledRevision& operator*() const { return *revision_; }
    dual_engine::CompiledRevision* operator->() const { return revision_.get(); }

   private:
    friend class RevisionPool;
    Checkout(RevisionPool* pool, std::string sha, uint64_t generation,
             std::unique_ptr<dual_engine::CompiledRevision> revision);
    RevisionPool* pool_;
    std::string sha_;
    uint64_t generation_;
    std::unique_ptr<dual_engine::CompiledRevision> revision_;
  };

  // An idle copy of the revision, or a new one when none is idle and fewer
  // than the maximum exist; else waits for one to come back. Throws what
  // `compile` throws (and the next checkout tries again).
  Checkout checkout(const std::string& revision_sha);
  // Forgets the revision: idle copies are destroyed now, those in use when
  // they come back.
  void evict(const std::string& revision_sha);

  struct Counts {
    uint32_t idle = 0, in_use = 0;
  };
  Counts counts(const std::string& revision_sha) const;
  uint64_t compilations() const;  // copies compiled so far

 private:
  struct Entry {
    uint64_t generation = 0;  // changes when the revision is evicted
    std::vector<std::unique_ptr<dual_engine::CompiledRevision>> idle;
    uint32_t in_use = 0;  // checked out or being compiled
  };
  void give_back(const std::string& sha, uint64_t generation,
                 std::unique_ptr<dual_engine::CompiledRevision> revision);

  const uint32_t max_per_revision_;
  const Compile compile_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::map<std::string, Entry> entries_;
  uint64_t next_generation_ = 1;
  uint64_t compilations_ = 0;
};

}  // namespace hil::device_agents
