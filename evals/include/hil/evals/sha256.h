// Content addressing: revisions, clips and blobs are named by SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace hil::evals {

// Lower-case hex SHA-256 of a byte string.
std::string sha256_hex(std::string_view bytes);

// Lower-case hex SHA-256 of a file's contents; throws std::runtime_error
// naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// HMAC-SHA-256(key, message), raw 32 bytes. Used for the rack secret's
// challenge-response.
std::string hmac_sha256(std::string_view key, std::string_view message);

// Constant-time comparison for authentication codes.
bool equal_constant_time(std::string_view a, std::string_view b);

// True for 64 lower-case hex characters.
bool is_sha256_hex(std::string_view s);

// Reads a whole file; throws std::runtime_error naming the file.
std::string read_file(const std::filesystem::path& path);

// Writes atomically (temp file + rename) so a crash never leaves half a file.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace hil::evals
