#include <catch2/catch.hpp>

#include <fstream>

#include "fixtures.h"
#include "hil/device_agents/blob_cache.h"
#include "hil/evals/sha256.h"

using namespace hil;

TEST_CASE("the blob cache verifies, detects corruption and evicts least recently used", "[cache]") {
  test::TempDir dir;
  device_agents::BlobCache cache(dir.path(), 250);
  std::string a(100, 'a'), b(100, 'b'), c(100, 'c');
  auto sa = evals::sha256_hex(a), sb = evals::sha256_hex(b), sc = evals::sha256_hex(c);
  cache.put(sa, a);
  cache.put(sb, b);
  CHECK(cache.has(sa));
  CHECK_THROWS_WITH(cache.put(sc, b), Catch::Contains(sc));

  SECTION("a corrupt cached blob is detected and removed so it is fetched again") {
    device_agents::BlobCache fresh(dir.path(), 1000);  // a restarted agent: nothing verified yet
    {
      std::fstream f(fresh.path(sa), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(10);
      f.put('X');
    }
    CHECK_FALSE(fresh.has(sa));
    CHECK_FALSE(std::filesystem::exists(fresh.path(sa)));
    CHECK(fresh.corrupt_detected() == 1);
    CHECK(fresh.has(sb));
  }
  SECTION("over the cap, the least recently used blob goes") {
    cache.touch(sa);  // b is now the oldest
    cache.put(sc, c);
    CHECK(cache.has(sa));
    CHECK(cache.has(sc));
    CHECK_FALSE(cache.has(sb));
    CHECK(cache.bytes() <= 250);
  }
}
