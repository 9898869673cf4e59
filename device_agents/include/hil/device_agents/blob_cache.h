// The agent's on-disk cache of revisions and clips, by SHA-256: verified on
// first use (a corrupt file is deleted and fetched again), kept under a size
// cap with least-recently-used eviction. Safe to share between the boards of
// one process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace hil::device_agents {

class BlobCache {
 public:
  BlobCache(std::filesystem::path dir, uint64_t max_bytes);

  // True when the blob is present and verified; a corrupt file is removed.
  bool has(const std::string& sha256);
  std::filesystem::path path(const std::string& sha256) const;
  // Verifies and stores bytes; throws std::runtime_error on a hash mismatch.
  void put(const std::string& sha256, const std::string& bytes);
  void touch(const std::string& sha256);
  // Called (outside the cache's lock, on the thread that stored a blob) with
  // each blob the size cap evicts, so that what was built from it can go too.
  // Set before the cache is shared.
  void on_evict(std::function<void(const std::string& sha256)> listener);
  uint64_t bytes() const;
  uint64_t corrupt_detected() const;

 private:
  // Evicts down to the size cap; returns what it evicted.
  std::vector<std::string> evict_locked();

  std::filesystem::path dir_;
  uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::set<std::string> verified_;
  std::list<std::string> lru_;  // front: most recent
  std::map<std::string, uint64_t> sizes_;
  uint64_t total_ = 0;
  uint64_t corrupt_ = 0;
  std::function<void(const std::string&)> on_evict_;
};

}  // namespace hil::device_agents
