#include "hil/device_agents/blob_cache.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/log.h"
#include "hil/evals/sha256.h"

namespace hil::device_agents {

BlobCache::BlobCache(std::filesystem::path dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {
  std::filesystem::create_directories(dir_);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    if (!evals::is_sha256_hex(name)) continue;
    auto size = e.file_size(ec);
    sizes_[name] = size;
    lru_.push_back(name);
    total_ += size;
  }
}

std::filesystem::path BlobCache::path(const std::string& sha256) const { return dir_ / sha256; }

bool BlobCache::has(const std::string& sha256) {
  std::lock_guard lock(mu_);
  if (!evals::is_sha256_hex(sha256)) return false;
  auto p = path(sha256);
  if (!std::filesystem::exists(p)) {
    verified_.erase(sha256);
    return false;
  }
  if (!verified_.count(sha256)) {
    if (evals::sha256_file(p) != sha256) {
      log::warn("agent", "cached blob {} is corrupt: deleted, fetching again", sha256);
      ++corrupt_;
      std::filesystem::remove(p);
      if (sizes_.count(sha256)) {
        total_ -= sizes_[sha256];
        sizes_.erase(sha256);
        lru_.remove(sha256);
      }
      return false;
    }
    verified_.insert(sha256);
  }
  return true;
}

void BlobCache::put(const std::string& sha256, const std::string& bytes) {
  auto actual = evals::sha256_hex(bytes);
  if (actual != sha256)
    throw std::runtime_error(fmt::format("blob {} received with SHA-256 {}", sha256, actual));
  // Unique temporary name: two boards may fetch the same blob at once.
  static std::atomic<uint64_t> counter{0};
  auto tmp = dir_ / fmt::format("{}.{}.tmp", sha256, counter++);
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
    size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
    bool ok = n == bytes.size() && std::fflush(f) == 0;
    std::fclose(f);
    if (!ok) {
      std::filesystem::remove(tmp);
      throw std::runtime_error(fmt::format("{}: write failed (disk full?)", tmp.string()));
    }
  }
  std::filesystem::rename(tmp, path(sha256));
  std::vector<std::string> evicted;
  {
    std::lock_guard lock(mu_);
    verified_.insert(sha256);
    if (!sizes_.count(sha256)) {
      sizes_[sha256] = bytes.size();
      total_ += bytes.size();
      lru_.push_front(sha256);
    }
    evicted = evict_locked();
  }
  if (on_evict_) {
    for (const auto& sha : evicted) on_evict_(sha);
  }
}

void BlobCache::on_evict(std::function<void(const std::string& sha256)> listener) {
  on_evict_ = std::move(listener);
}

void BlobCache::touch(const std::string& sha256) {
  std::lock_guard lock(mu_);
  auto it = std::find(lru_.begin(), lru_.end(), sha256);
  if (it != lru_.end()) lru_.splice(lru_.begin(), lru_, it);
}

std::vector<std::string> BlobCache::evict_locked() {
  std::vector<std::string> evicted;
  while (total_ > max_bytes_ && lru_.size() > 1) {
    auto victim = lru_.back();
    lru_.pop_back();
    std::error_code ec;
    std::filesystem::remove(path(victim), ec);
    total_ -= sizes_[victim];
    sizes_.erase(victim);
    verified_.erase(victim);
    evicted.push_back(std::move(victim));
  }
  return evicted;
}

uint64_t BlobCache::bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

uint64_t BlobCache::corrupt_detected() const {
  std::lock_guard lock(mu_);
  return corrupt_;
}

}  // namespace hil::device_agents
