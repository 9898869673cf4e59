// The agent's on-disk cache of revisions and clips, by SHA-256: verified on
// first use (a corrupt file is deleted and fetched again), kept under a size
// cap with least-recently-used eviction. Safe to share between the boards of
// one process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string>

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
  uint64_t bytes() const;
  uint64_t corrupt_detected() const;

 private:
  void evict_locked();

  std::filesystem::path dir_;
  uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::set<std::string> verified_;
  std::list<std::string> lru_;  // front: most recent
  std::map<std::string, uint64_t> sizes_;
  uint64_t total_ = 0;
  uint64_t corrupt_ = 0;
};

}  // namespace hil::device_agents
