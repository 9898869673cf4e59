#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace hil::test {

namespace {

// Per direction: past this many unsent bytes the proxy stops reading from the
// sender, as a router's queue would (a stopped agent does not read).
constexpr size_t kMaxBuffered = 4u << 20;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with a reset rather than a FIN, like a connection lost on the way.
void close_hard(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

}  // namespace

// One relayed connection: side 0 is the agent, side 1 the scheduler;
// buf[i] holds bytes read from side i not yet written to the other side.
struct TcpProxy::Pipe {
  int fd[2] = {-1, -1};
  std::string buf[2];
  bool eof[2] = {false, false};
  bool dead = false;
};

TcpProxy::TcpProxy(uint16_t upstream_port, uint64_t seed)
    : upstream_port_(upstream_port), rng_(seed) {
  // CLOEXEC everywhere: the test forks agents and schedulers while the proxy
  // runs, and a child holding a copy of a socket would keep a "cut"
  // connection open.
  if (pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("proxy: pipe2 failed");
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw std::runtime_error("proxy: socket failed");
  auto addr = loopback(0);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 128) != 0) {
    throw std::runtime_error("proxy: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  wake();
  thread_.join();
  close(listen_fd_);
  close(wake_fds_[0]);
  close(wake_fds_[1]);
}

void TcpProxy::wake() {
  char c = 1;
  [[maybe_unused]] auto n = write(wake_fds_[1], &c, 1);
}

int TcpProxy::cut_random(int n) {
  std::future<int> done;
  {
    std::lock_guard lock(mu_);
    requests_.push_back({n, {}});
    done = requests_.back().done.get_future();
  }
  wake();
  if (done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return 0;
  return done.get();
}

void TcpProxy::loop() {
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<pollfd> fds;
  std::vector<std::pair<Pipe*, int>> owner;  // per pollfd past the first two
  while (!stop_) {
    fds.clear();
    owner.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& p : pipes) {
      for (int i = 0; i < 2; ++i) {
        short ev = 0;
        if (!p->eof[i] && p->buf[i].size() < kMaxBuffered) ev |= POLLIN;
        if (!p->buf[1 - i].empty()) ev |= POLLOUT;
        fds.push_back({p->fd[i], ev, 0});
        owner.emplace_back(p.get(), i);
      }
    }
    if (poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR) break;

    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_fds_[0], drain, sizeof drain) > 0) {
      }
      std::vector<CutRequest> requests;
      {
        std::lock_guard lock(mu_);
        requests.swap(requests_);
      }
      for (auto& r : requests) {
        std::vector<Pipe*> alive;
        for (auto& p : pipes) {
          if (!p->dead) alive.push_back(p.get());
        }
        std::shuffle(alive.begin(), alive.end(), rng_);
        int cut = 0;
        for (auto* p : alive) {
          if (cut == r.n) break;
          p->dead = true;
          ++cut;
        }
        r.done.set_value(cut);
      }
    }

    for (size_t k = 0; k < owner.size(); ++k) {
      auto [p, i] = owner[k];
      short re = fds[k + 2].revents;
      if (p->dead || re == 0) continue;
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        char chunk[65536];
        ssize_t n = read(p->fd[i], chunk, sizeof chunk);
        if (n > 0) {
          p->buf[i].append(chunk, static_cast<size_t>(n));
        } else if (n == 0) {
          // hil never half-closes: pass on what is buffered (best effort,
          // without waiting for a peer that may be stopped) and end the pair.
          auto& rest = p->buf[i];
          if (!rest.empty()) send(p->fd[1 - i], rest.data(), rest.size(), MSG_NOSIGNAL);
          p->eof[i] = true;
          p->dead = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          p->dead = true;
        }
      }
      if ((re & POLLOUT) && !p->dead) {
        auto& out = p->buf[1 - i];
        ssize_t n = send(p->fd[i], out.data(), out.size(), MSG_NOSIGNAL);
        if (n > 0) {
          out.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          p->dead = true;
        }
      }
    }
    std::erase_if(pipes, [&](const std::unique_ptr<Pipe>& p) {
      if (!p->dead) return false;
      close_hard(p->fd[0]);
      close_hard(p->fd[1]);
      --live_;
      return true;
    });

    if (fds[1].revents & POLLIN) {
      for (;;) {
        int down = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (down < 0) break;
        ++accepted_;
        int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = loopback(upstream_port_);
        // Loopback: connect succeeds or is refused at once, so blocking is fine.
        if (up < 0 || connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          if (up >= 0) close(up);
          close_hard(down);
          ++refused_;
          continue;
        }
        set_nonblocking(up);
        set_nodelay(up);
        set_nodelay(down);
        auto p = std::make_unique<Pipe>();
        p->fd[0] = down;
        p->fd[1] = up;
        pipes.push_back(std::move(p));
        ++live_;
      }
    }
  }
  for (auto& p : pipes) {
    close(p->fd[0]);
    close(p->fd[1]);
  }
  // Nobody will serve requests that came in while stopping.
  std::lock_guard lock(mu_);
  for (auto& r : requests_) r.done.set_value(0);
  requests_.clear();
}

}  // namespace hil::test
