#include "hil/harness/blob_store.h"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/sha256.h"

namespace hil::harness {

BlobStore::BlobStore(std::filesystem::path dir, uint64_t max_blob_bytes)
    : dir_(std::move(dir)), max_blob_bytes_(max_blob_bytes) {
  std::filesystem::create_directories(dir_);
}

std::filesystem::path BlobStore::path(const std::string& sha256) const { return dir_ / sha256; }

bool BlobStore::has(const std::string& sha256) const {
  return evals::is_sha256_hex(sha256) && std::filesystem::exists(path(sha256));
}

uint64_t BlobStore::size(const std::string& sha256) const {
  return std::filesystem::file_size(path(sha256));
}

std::string BlobStore::read(const std::string& sha256, uint64_t offset, uint64_t max) const {
  std::ifstream in(path(sha256), std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("blob {} not found", sha256));
  in.seekg(static_cast<std::streamoff>(offset));
  std::string out(max, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

bool BlobStore::append(const std::string& sha256, uint64_t offset, uint64_t total_size,
                       const std::string& data, bool last) {
  if (!evals::is_sha256_hex(sha256))
    throw std::runtime_error(fmt::format("'{}' is not a SHA-256 hex digest", sha256));
  if (has(sha256)) return true;  // content-addressed: already here
  if (total_size > max_blob_bytes_) {
    throw std::runtime_error(fmt::format("blob {} of {} bytes exceeds the limit of {} bytes",
                                         sha256, total_size, max_blob_bytes_));
  }
  auto tmp = dir_ / (sha256 + ".part");
  uint64_t have = partial_.count(sha256) ? partial_[sha256] : 0;
  if (offset == 0) have = 0;
  if (offset != have) {
    throw std::runtime_error(fmt::format("blob {}: chunk at offset {} but {} bytes received so far",
                                         sha256, offset, have));
  }
  if (offset + data.size() > total_size) {
    throw std::runtime_error(
        fmt::format("blob {}: chunk runs past the announced size {}", sha256, total_size));
  }
  {
    std::ofstream out(tmp, std::ios::binary | (offset == 0 ? std::ios::trunc : std::ios::app));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error(fmt::format("blob {}: write failed (disk full?)", sha256));
  }
  partial_[sha256] = offset + data.size();
  if (!last) return false;
  partial_.erase(sha256);
  auto actual = evals::sha256_file(tmp);
  if (actual != sha256) {
    std::filesystem::remove(tmp);
    throw std::runtime_error(
        fmt::format("blob upload named {} has SHA-256 {}: refused", sha256, actual));
  }
  std::filesystem::rename(tmp, path(sha256));
  return true;
}

void BlobStore::abandon(const std::string& sha256) {
  if (partial_.erase(sha256) == 0) return;
  std::error_code ec;
  std::filesystem::remove(dir_ / (sha256 + ".part"), ec);
}

void BlobStore::put(const std::string& sha256, const std::string& bytes) {
  if (evals::sha256_hex(bytes) != sha256)
    throw std::runtime_error(fmt::format("blob named {} does not hash to its name", sha256));
  if (!has(sha256)) evals::write_file_atomic(path(sha256), bytes);
}

}  // namespace hil::harness
