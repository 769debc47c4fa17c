// Futex waits on shared words, and Watcher: one thread per watched SemLock that parks in the
// kernel and wakes the JS event loop (through a thread-safe function) when a token may be free.
#include "wait.h"

#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <chrono>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "errors.h"
#include "semlock.h"
#include "shm.h"

namespace mp {

void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms) {
#ifdef __linux__
  // Not FUTEX_PRIVATE: the word is in memory shared between processes.
  if (timeout_ms < 0) {
    syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
    return;
  }
  timespec relative;
  relative.tv_sec = static_cast<time_t>(timeout_ms / 1e3);
  relative.tv_nsec = static_cast<long>((timeout_ms - relative.tv_sec * 1e3) * 1e6);
  syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT, expected, &relative, nullptr, 0);
#else
  // No cross-process futex: poll, as CPython does where sem_timedwait is missing.
  if (word->load() != expected) return;
  double slice = timeout_ms < 0 || timeout_ms > 1 ? 1 : timeout_ms;
  timespec pause{0, static_cast<long>(slice * 1e6)};
  nanosleep(&pause, nullptr);
#endif
}

void WakeWord(std::atomic<int32_t>* word, int32_t count) {
#ifdef __linux__
  syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
#else
  (void)word;
  (void)count;
#endif
}

void JoinWatcherThread(std::thread& thread, const std::atomic<bool>& exited, std::atomic<int32_t>* word,
                       std::atomic<int32_t>* other_word) {
  while (!exited.load()) {
    WakeWord(word, INT_MAX);  // other sleepers re-check their condition and park again
    if (other_word != nullptr) WakeWord(other_word, INT_MAX);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  thread.join();
}

namespace {

constexpr double kOwnerCheckMs = 100;
std::atomic<int> live_watcher_threads{0};

// new Watcher(segment, offset, onReady): calls onReady on the JS thread each time, after arm(),
// the SemLock has a token (or a dead holder) to take. Idle watchers keep no event loop alive.
class Watcher : public WatcherThread<Watcher> {
 public:
  explicit Watcher(const Napi::CallbackInfo& info)
      : WatcherThread(info, 2, "mpjs-semlock-watch", &StateArg(info, 0)->value, Segment::From(info[0])->mapping()),
        state_(StateArg(info, 0)) {}

  void WaitUntilReady(int32_t) {
    for (int32_t seen; !stopping() && (seen = state_->value.load()) <= 0 && !OwnerDied(state_);)
      ParkCounted(&state_->value, seen, &state_->sleepers, state_->maxvalue == 1 ? kOwnerCheckMs : -1);
  }

 private:
  SemLockState* state_;
};

}  // namespace

int LiveWatcherThreads() { return live_watcher_threads.load(); }
void CountWatcherThread(int delta) { live_watcher_threads.fetch_add(delta); }

void InitWait(Napi::Env env, Napi::Object exports) { exports.Set("Watcher", Watcher::DefineWatcher(env, "Watcher")); }

}  // namespace mp
