#include <catch2/catch.hpp>

#include "hil/evals/suite.h"

using namespace hil;

TEST_CASE("every shipped suite loads", "[suite]") {
  auto names = evals::list_suites();
  REQUIRE_FALSE(names.empty());
  for (const auto& n : names) {
    INFO(n);
    CHECK_NOTHROW(evals::load_suite(n));
  }
}

TEST_CASE("an invalid suite is refused with the file, line and field", "[suite]") {
  const std::string head =
      "name: \"x\"\nboard_type: \"slowed-hw3\"\nclips { generated { count: 2 } }\n";
  SECTION("syntax error") {
    CHECK_THROWS_WITH(
        evals::parse_suite(head + "scenarios { name: \"a\" \n gates {", "bad.textproto"),
        Catch::Contains("bad.textproto:"));
  }
  SECTION("unknown field") {
    CHECK_THROWS_WITH(
        evals::parse_suite(head + "scenarios { name: \"a\" }\nfrobnicate: 3\n", "bad.textproto"),
        Catch::Contains("bad.textproto:5") && Catch::Contains("frobnicate"));
  }
  SECTION("unknown metric, with its line") {
    CHECK_THROWS_WITH(
        evals::parse_suite(
            head + "scenarios { name: \"a\" }\ngates { metric: \"speed_of_light\" }\n",
            "bad.textproto"),
        Catch::Contains("bad.textproto:5") && Catch::Contains("gates.metric") &&
            Catch::Contains("speed_of_light"));
  }
  SECTION("unknown condition") {
    CHECK_THROWS_WITH(evals::parse_suite("name: \"x\"\nboard_type: \"b\"\nclips { generated { "
                                         "count: 2 conditions: \"hail\" } }\n"
                                         "scenarios { name: \"a\" }\n",
                                         "c.textproto"),
                      Catch::Contains("hail") && Catch::Contains("clips.generated.conditions"));
  }
  SECTION("no scenario") {
    CHECK_THROWS_WITH(evals::parse_suite(head, "s.textproto"), Catch::Contains("scenarios"));
  }
  SECTION("a negative heartbeat period, with its line") {
    CHECK_THROWS_WITH(
        evals::parse_suite(
            head + "scenarios { name: \"a\" }\nscenarios { name: \"b\" heartbeat_period_ms: -2 }\n",
            "hb.textproto"),
        Catch::Contains("hb.textproto:5") && Catch::Contains("scenarios.heartbeat_period_ms") &&
            Catch::Contains("-2"));
  }
  SECTION("an FTTI preset that does not exist") {
    CHECK_THROWS_WITH(
        evals::parse_suite(head + "scenarios { name: \"a\" ftti_preset: FTTI_BRAKING }\n",
                           "p.textproto"),
        Catch::Contains("p.textproto:4") && Catch::Contains("FTTI_BRAKING"));
  }
}

TEST_CASE("every field a board acts on is checked at submission, naming the field and value (#21)",
          "[suite]") {
  const std::string head =
      "name: \"x\"\nboard_type: \"slowed-hw3\"\nclips { generated { count: 2 } }\n";
  auto refused = [&](const std::string& rest) {
    try {
      evals::parse_suite(head + rest, "s.textproto");
    } catch (const evals::SuiteError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  SECTION("a misspelt fault kind, with the fault's line") {
    auto why = refused(
        "scenarios { name: \"a\" }\nscenarios {\n name: \"b\"\n faults { engine: \"commander\" "
        "kind: \"crsh\" frame: 3 }\n}\n");
    CHECK_THAT(why, Catch::Contains("s.textproto:7") &&
                        Catch::Contains("field 'scenarios.faults.kind'") &&
                        Catch::Contains("'crsh'"));
  }
  SECTION("a slow fault without a number, or out of range") {
    CHECK_THAT(refused("scenarios { name: \"a\" faults { engine: \"0\" kind: \"slow:x\" } }\n"),
               Catch::Contains("scenarios.faults.kind") && Catch::Contains("'slow:x'"));
    CHECK_THAT(refused("scenarios { name: \"a\" faults { engine: \"0\" kind: \"slow:5000\" } }\n"),
               Catch::Contains("scenarios.faults.kind") && Catch::Contains("1..1000"));
  }
  SECTION("an engine that does not exist") {
    CHECK_THAT(refused("scenarios { name: \"a\" faults { engine: \"2\" kind: \"crash\" } }\n"),
               Catch::Contains("field 'scenarios.faults.engine'") && Catch::Contains("'2'"));
    CHECK_THAT(refused("scenarios { name: \"a\" commander: 3 }\n"),
               Catch::Contains("field 'scenarios.commander'") && Catch::Contains("3"));
  }
  SECTION("an unknown mode") {
    CHECK_THAT(refused("scenarios { name: \"a\" mode: \"dual\" }\n"),
               Catch::Contains("s.textproto:4") && Catch::Contains("field 'scenarios.mode'") &&
                   Catch::Contains("'dual'"));
  }
  SECTION("two scenarios of one name") {
    CHECK_THAT(refused("scenarios { name: \"a\" }\nscenarios { name: \"a\" mode: \"single\" }\n"),
               Catch::Contains("s.textproto:5") && Catch::Contains("field 'scenarios.name'") &&
                   Catch::Contains("'a'"));
  }
  SECTION("an infinite frame rate") {
    CHECK_THAT(refused("scenarios { name: \"a\" fps: inf }\n"),
               Catch::Contains("field 'scenarios.fps'") && Catch::Contains("inf"));
  }
  SECTION("a missing-evals allowance that is not a fraction") {
    CHECK_THAT(refused("scenarios { name: \"a\" }\nmissing_evals_allowed: 1.5\n"),
               Catch::Contains("s.textproto:5") &&
                   Catch::Contains("field 'missing_evals_allowed'") && Catch::Contains("1.5"));
  }
  SECTION("every known fault kind and engine is accepted") {
    CHECK(refused("scenarios { name: \"a\" faults { engine: \"commander\" kind: \"crash\" } "
                  "faults { engine: \"extender\" kind: \"hang\" } faults { engine: \"0\" kind: "
                  "\"slow:4\" } faults { engine: \"1\" kind: \"nan\" } faults { engine: \"0\" "
                  "kind: \"ecc\" } faults { engine: \"1\" kind: \"slow\" } }\n") == "accepted");
  }
}

TEST_CASE("a fault a board meets unchecked is a ScenarioError naming the field and value",
          "[suite]") {
  suite::Fault f;
  f.set_engine("commander");
  f.set_kind("crsh");
  CHECK_THROWS_AS(evals::fault_spec(f), evals::ScenarioError);
  CHECK_THROWS_WITH(evals::fault_spec(f),
                    Catch::Contains("scenarios.faults.kind") && Catch::Contains("'crsh'"));
  f.set_kind("slow:3");
  auto spec = evals::fault_spec(f);
  CHECK(spec.kind == evals::FaultKind::kSlow);
  CHECK(spec.slow_factor == 3);
  CHECK(spec.engine == evals::FaultEngine::kCommander);
}

TEST_CASE("an unknown suite name lists the known ones", "[suite]") {
  CHECK_THROWS_WITH(evals::load_suite("no-such-suite"),
                    Catch::Contains("no-such-suite") && Catch::Contains("demo"));
}

TEST_CASE("a calibration pool grows the suite's clips or holds them out", "[suite]") {
  auto suite = evals::parse_suite(
      "name: \"x\"\nboard_type: \"slowed-hw3\"\n"
      "clips { generated { count: 4 frames: 10 seed: 100 conditions: [\"clear\", \"fog\"] } }\n"
      "scenarios { name: \"a\" }\n",
      "pool.textproto");
  auto seeds = [](const std::vector<evals::ClipSpec>& specs) {
    std::vector<uint64_t> out;
    for (const auto& s : specs) out.push_back(s.seed);
    return out;
  };
  CHECK(seeds(evals::generated_clip_specs(suite)) == std::vector<uint64_t>{100, 101, 102, 103});
  // Scaled: the suite's own clips first, then more of the same kind.
  CHECK(seeds(evals::generated_clip_specs(suite, 2)) ==
        std::vector<uint64_t>{100, 101, 102, 103, 104, 105, 106, 107});
  // Held out: two suite-sized sets skipped, none of the suite's clips in it.
  const auto held_out = evals::generated_clip_specs(suite, 1, 2);
  CHECK(seeds(held_out) == std::vector<uint64_t>{108, 109, 110, 111});
  // Conditions keep their rotation, so a held-out pool has the same mix.
  REQUIRE(held_out.size() == 4);
  CHECK(held_out[0].condition == "clear");
  CHECK(held_out[1].condition == "fog");
  CHECK(held_out[0].frames == 10);
}
