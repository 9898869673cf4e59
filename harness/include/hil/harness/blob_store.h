// Content-addressed blobs (revisions, clips) in a folder beside the
// database: `<dir>/<sha256>`. Uploads arrive in chunks into a temporary
// file, are verified by SHA-256, and only then renamed into place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace hil::harness {

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir, uint64_t max_blob_bytes = uint64_t{4} << 30);

  bool has(const std::string& sha256) const;
  std::filesystem::path path(const std::string& sha256) const;
  uint64_t size(const std::string& sha256) const;
  // Reads up to `max` bytes at offset.
  std::string read(const std::string& sha256, uint64_t offset, uint64_t max) const;

  // Appends a chunk of an upload; throws std::runtime_error on a bad offset,
  // an oversized blob, or (on the last chunk) a hash mismatch. Returns true
  // when the blob is complete and stored.
  bool append(const std::string& sha256, uint64_t offset, uint64_t total_size,
              const std::string& data, bool last);
  // Forgets an unfinished upload (its uploader went away) and its partial file.
  void abandon(const std::string& sha256);
  // Stores whole bytes (verifying the name); for local use and tests.
  void put(const std::string& sha256, const std::string& bytes);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  uint64_t max_blob_bytes_;
  std::map<std::string, uint64_t> partial_;  // sha -> bytes received
};

}  // namespace hil::harness
