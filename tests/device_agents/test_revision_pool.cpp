// The compiled revisions of a board's slots (revision_pool.h), without
// sockets: real revisions compiled for a real board type.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "fixtures.h"
#include "hil/device_agents/revision_pool.h"
#include "hil/dual_engine/compiler.h"

using namespace hil;
using device_agents::RevisionPool;

namespace {

// Compiles the tiny sample revision (whatever the SHA-256 asked for), counting calls.
struct Compiler {
  std::atomic<int> calls{0};
  std::atomic<bool> fail_next{false};
  RevisionPool::Compile function() {
    return [this](const std::string&) {
      ++calls;
      if (fail_next.exchange(false)) throw std::runtime_error("compiler crashed");
      auto model = dual_engine::Model::load(test::tiny_revision(), "tiny");
      return std::make_unique<dual_engine::CompiledRevision>(
          model, dual_engine::load_board_type("slowed-hw3"));
    };
  }
};

const std::string kRevision = "aaaa";
const std::string kOther = "bbbb";

}  // namespace

TEST_CASE(
    "two slots playing the same revision get copies of their own, and a copy given back is reused",
    "[device_agents][slots]") {
  Compiler compiler;
  RevisionPool pool(2, compiler.function());
  const dual_engine::CompiledRevision *first_copy = nullptr, *second_copy = nullptr;
  {
    auto a = pool.checkout(kRevision);
    auto b = pool.checkout(kRevision);
    CHECK(&*a != &*b);
    // Not only the objects: their engines' programs differ too.
    CHECK(a->engine(0).standby.get() != b->engine(0).standby.get());
    CHECK(compiler.calls == 2);
    CHECK(pool.counts(kRevision).in_use == 2);
    first_copy = &*a;
    second_copy = &*b;
  }
  CHECK(pool.counts(kRevision).idle == 2);
  CHECK(pool.counts(kRevision).in_use == 0);
  auto again = pool.checkout(kRevision);
  CHECK(compiler.calls == 2);  // reused, not compiled again
  CHECK((&*again == first_copy || &*again == second_copy));
  CHECK(pool.counts(kRevision).idle == 1);
  auto other = pool.checkout(kOther);
  CHECK(compiler.calls == 3);  // another revision has copies of its own
  CHECK(pool.compilations() == 3);
}

TEST_CASE(
    "a revision never has more copies than the board has slots: one more checkout waits for a copy "
    "back",
    "[device_agents][slots]") {
  Compiler compiler;
  RevisionPool pool(2, compiler.function());
  auto a = std::make_unique<RevisionPool::Checkout>(pool.checkout(kRevision));
  auto b = pool.checkout(kRevision);
  std::atomic<bool> got_one{false};
  const dual_engine::CompiledRevision* third = nullptr;
  std::thread waiter([&] {
    auto c = pool.checkout(kRevision);
    third = &*c;
    got_one = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(got_one);  // it cannot have one: both copies are out and the bound is 2
  const auto* given_back = &**a;
  a.reset();
  waiter.join();
  CHECK(got_one);
  CHECK(third == given_back);
  CHECK(compiler.calls == 2);
}

TEST_CASE("evicting a revision drops its idle copies at once and its busy ones when they come back",
          "[device_agents][slots]") {
  Compiler compiler;
  RevisionPool pool(2, compiler.function());
  {
    auto busy = pool.checkout(kRevision);
    { auto idle = pool.checkout(kRevision); }
    CHECK(pool.counts(kRevision).idle == 1);
    pool.evict(kRevision);
    CHECK(pool.counts(kRevision).idle == 0);
    CHECK(pool.counts(kRevision).in_use == 0);  // the busy copy no longer counts as the revision's
  }
  CHECK(pool.counts(kRevision).idle == 0);  // and did not come back into the pool
  auto fresh = pool.checkout(kRevision);
  CHECK(compiler.calls == 3);
}

TEST_CASE("a compile that throws frees its place, and the next checkout compiles again",
          "[device_agents][slots]") {
  Compiler compiler;
  RevisionPool pool(1, compiler.function());
  compiler.fail_next = true;
  CHECK_THROWS_WITH(pool.checkout(kRevision), "compiler crashed");
  CHECK(pool.counts(kRevision).in_use == 0);
  auto revision = pool.checkout(kRevision);  // does not wait for a place the failure held
  CHECK(compiler.calls == 2);
}
