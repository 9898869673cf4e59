// The compare view (revision A against B) against real results databases.
#include <catch2/catch.hpp>

#include "compare_fixture.h"
#include "viewer_test_support.h"
