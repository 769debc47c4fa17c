// Time and poll(2) with a CLOCK_MONOTONIC deadline, header-only so that the per-ABI park addon
// shares them with the main addon.
#pragma once
#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cstddef>

namespace mp {

// Milliseconds on CLOCK_MONOTONIC.
inline double MonotonicMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

// poll(2) retried on EINTR with the remaining time; returns poll's count (0 on timeout).
// timeout_ms < 0 waits forever.
inline int PollWithDeadline(pollfd* entries, size_t count, double timeout_ms) {
  const double deadline = timeout_ms < 0 ? -1 : MonotonicMs() + timeout_ms;
  for (;;) {
    int wait = -1;
    if (deadline >= 0) {
      double left = deadline - MonotonicMs();
      wait = left <= 0 ? 0 : static_cast<int>(left + 0.999);
    }
    int ready = poll(entries, count, wait);
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

}  // namespace mp
