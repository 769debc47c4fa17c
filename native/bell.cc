// The bell: one helper thread per JS thread that uses it, polling a busy pool's descriptors while
// that JS thread is parked in a futex wait, and waking the wait once the pool needs it.
#include "bell.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "deadline.h"
#include "errors.h"
#include "wait.h"

namespace mp {
namespace {

// What the JS thread and its helper share; the helper holds it too, so it outlives a collected Bell.
struct Shared {
  std::mutex mutex;
  std::condition_variable armed_cv;
  std::vector<int> fds;
  double until_ms = -1;  // CLOCK_MONOTONIC time at which to ring anyway (the pool's next timer); < 0: none
  std::atomic<uint64_t> generation{0};  // each arm() starts one (under mutex); a generation rings at most once
  uint64_t rung_generation = 0;
  bool armed = false;
  bool stopping = false;
  int kick[2] = {-1, -1};  // a byte here brings the helper out of poll() to look at the arming again
  std::atomic<bool> rang{false};
  std::atomic<std::atomic<int32_t>*> parked{nullptr};  // the word the JS thread is parked on

  ~Shared() {
    for (int fd : kick)
      if (fd >= 0) close(fd);
  }
};

thread_local Shared* armed_here = nullptr;

void Kick(Shared& shared) {
  char byte = 1;
  while (write(shared.kick[1], &byte, 1) < 0 && errno == EINTR) {
  }
}

void Serve(std::shared_ptr<Shared> shared) {
  std::vector<pollfd> entries;
  for (;;) {
    uint64_t generation;
    double until;
    {
      std::unique_lock<std::mutex> lock(shared->mutex);
      shared->armed_cv.wait(lock, [&] { return shared->stopping || (shared->armed && shared->generation != shared->rung_generation); });
      if (shared->stopping) break;
      generation = shared->generation;
      until = shared->until_ms;
      entries.assign(1, pollfd{shared->kick[0], POLLIN, 0});
      for (int fd : shared->fds) entries.push_back(pollfd{fd, POLLIN, 0});
    }
    const int ready = PollWithDeadline(entries.data(), entries.size(), until < 0 ? -1 : std::max(0.0, until - MonotonicMs()));
    const bool kicked = entries[0].revents != 0;
    if (kicked) {
      char bytes[64];
      while (read(shared->kick[0], bytes, sizeof bytes) > 0) {
      }
    }
    // A kick alone only says the arming changed; a ready descriptor or a due timer (0) rings.
    if (ready < 0 || (ready > 0 && ready == static_cast<int>(kicked))) continue;
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      if (!shared->armed || shared->generation != generation) continue;
      shared->rung_generation = generation;
      shared->rang.store(true);
    }
    // A wake sent between the JS thread's look at `rang` and its futex call is lost: wake its word
    // until it has left the park (other sleepers on that word re-check and park again), or armed
    // the bell again for its next park.
    for (std::atomic<int32_t>* word; shared->generation.load() == generation && (word = shared->parked.load()) != nullptr;) {
      WakeWord(word, INT_MAX);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  CountWatcherThread(-1);
}

// new Bell(): arm(fds, timeoutMs) before a blocking wait on this thread, disarm() after it.
class Bell : public Napi::ObjectWrap<Bell> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Bell", {InstanceMethod("arm", &Bell::Arm), InstanceMethod("disarm", &Bell::Disarm)});
  }

  explicit Bell(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Bell>(info) {}

  ~Bell() override {
    if (!shared_ || owner_pid_ != getpid()) return;
    if (armed_here == shared_.get()) armed_here = nullptr;
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->armed_cv.notify_one();
    Kick(*shared_);
  }

 private:
  // The helper of this process: a fork child has the parent's memory but not its thread (nor may
  // it touch a mutex that thread might have held), so it starts its own.
  Shared& Helper(Napi::Env env) {
    if (shared_ && owner_pid_ == getpid()) return *shared_;
    auto shared = std::make_shared<Shared>();
    if (pipe2(shared->kick, O_CLOEXEC | O_NONBLOCK) != 0) ThrowErrno(env, "pipe2");
    std::thread(Serve, shared).detach();
    CountWatcherThread(1);
    shared_ = std::move(shared);
    owner_pid_ = getpid();
    return *shared_;
  }

  // arm(fds, timeoutMs): rings once one of fds is readable, or after timeoutMs (< 0: no limit).
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) ThrowType(env, "Bell.arm: fds must be an array");
    Napi::Array list = info[0].As<Napi::Array>();
    if (!info[1].IsNumber()) ThrowType(env, "Bell.arm: timeoutMs must be a number");
    const double timeout = info[1].As<Napi::Number>().DoubleValue();
    Shared& shared = Helper(env);
    {
      std::lock_guard<std::mutex> lock(shared.mutex);
      shared.fds.resize(list.Length());
      for (uint32_t i = 0; i < list.Length(); i++) shared.fds[i] = list.Get(i).As<Napi::Number>().Int32Value();
      shared.until_ms = timeout < 0 ? -1 : MonotonicMs() + timeout;
      shared.generation++;
      shared.armed = true;
      shared.rang.store(false);
    }
    shared.armed_cv.notify_one();
    Kick(shared);
    armed_here = &shared;
    return env.Undefined();
  }

  // disarm() -> true when it rang. The helper may poll a little longer; it rings no stale arming.
  Napi::Value Disarm(const Napi::CallbackInfo& info) {
    armed_here = nullptr;
    if (!shared_ || owner_pid_ != getpid()) return Napi::Boolean::New(info.Env(), false);
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->armed = false;
    return Napi::Boolean::New(info.Env(), shared_->rang.load());
  }

  std::shared_ptr<Shared> shared_;
  pid_t owner_pid_ = 0;
};

}  // namespace

bool BellRang() { return armed_here != nullptr && armed_here->rang.load(); }

void ParkRingable(std::atomic<int32_t>* word, int32_t expected, std::atomic<int32_t>* sleepers, double timeout_ms) {
  Shared* shared = armed_here;
  if (shared == nullptr) return ParkCounted(word, expected, sleepers, timeout_ms);
  // Published before the look at `rang`: the helper, which sets `rang` before it reads this, then
  // either finds the word to wake or was seen to have rung.
  shared->parked.store(word);
  if (!shared->rang.load()) ParkCounted(word, expected, sleepers, timeout_ms);
  shared->parked.store(nullptr);
}

void InitBell(Napi::Env env, Napi::Object exports) { exports.Set("Bell", Bell::Define(env)); }

}  // namespace mp
