// The raw limits `hil bench dispatch` is bounded by, measured in the same
// run, so that dispatch can be printed as a fraction of what this machine's
// loopback, TLS and SQLite can do at all: a fraction travels between
// machines where an absolute rate does not.
#pragma once

#include <cstdint>
#include <filesystem>

namespace hil::app {

// Loopback request/reply messages per second with hil's TLS stream (the
// rack's certificates, mutual TLS) or plaintext: `connections` clients on one
// thread, each keeping `depth` 64-byte requests in flight, against a server
// on another thread that answers every request with a 64-byte reply (all the
// replies to one read in one write). Requests and replies both count.
struct LoopbackLimit {
  double messages_per_second = 0;
  uint32_t connections = 0;
  uint32_t depth = 0;
};
LoopbackLimit measure_loopback_messages(const std::filesystem::path& pki_dir, bool plaintext,
                                        uint32_t connections, uint32_t depth, double seconds);

// Guarded UPDATEs per second on a bare SQLite table as the results writer
// commits them (WAL, synchronous=FULL, 512 updates per transaction): per row
// the lease's update and the result's, guarded by state and lease id.
double measure_sqlite_guarded_updates(const std::filesystem::path& dir, int64_t rows);

}  // namespace hil::app
