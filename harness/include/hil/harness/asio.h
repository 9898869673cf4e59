// Boost.Asio with C++20 coroutines, included once the way Debian 12's Boost
// 1.74 with g++ 12 needs it (<utility> first, or awaitable.hpp fails on
// std::exchange).
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hil::net {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
}  // namespace hil::net
