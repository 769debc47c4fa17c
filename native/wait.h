// Waiting on a 32-bit word in shared memory: futex on Linux (polling elsewhere), blocking with
// a CLOCK_MONOTONIC deadline, and the Watcher that serves async waits from one dedicated thread
// per watched word, so no libuv threadpool thread is ever parked.
#pragma once
#include <napi.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "deadline.h"
#include "shm.h"

namespace mp {

// The pause a spin loop makes between looks at shared memory.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Parks while *word == expected, for at most `timeout_ms` (< 0: no limit). Returns on wake,
// timeout, EINTR or a changed word alike: callers re-check their condition.
void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms);
void WakeWord(std::atomic<int32_t>* word, int32_t count);

// WaitOnWord counted in `sleepers`: the count goes up before the futex re-checks the word, so a
// waker that changes the word and then reads a zero count cannot have missed this sleeper.
inline void ParkCounted(std::atomic<int32_t>* word, int32_t expected, std::atomic<int32_t>* sleepers, double timeout_ms) {
  sleepers->fetch_add(1);
  WaitOnWord(word, expected, timeout_ms);
  sleepers->fetch_sub(1);
}

// Watcher threads running in this process (SemLock and ring watchers): known threads for fork's
// audit of unexplained ones. Watchers count themselves in and out.
int LiveWatcherThreads();
void CountWatcherThread(int delta);

// Joins a watcher thread that may be parked on `word` after its owner set its stop flag. A wake
// sent between the thread's last look at that flag and its futex call is lost, so this wakes the
// word until the thread says it has left its loop (`exited`).
void JoinWatcherThread(std::thread& thread, const std::atomic<bool>& exited, std::atomic<int32_t>* word,
                       std::atomic<int32_t>* other_word = nullptr);

// The lifecycle every async watcher shares (SemLock Watcher, RingWatcher, CondWatcher): one
// dedicated thread, known to fork's audit, that waits for work under mutex() / work_cv(), then on a
// word in shared memory, and calls a JS callback through a thread-safe function that keeps no event
// loop alive while idle. Stop() (close, GC or destruction) stops and joins it once; the loop must
// return once stopping() turns true (it is woken on work_cv() and on `word`).
class CallbackThread {
 public:
  // `owner` names the class in the error for a callback that is not a function; `resource` names
  // the thread-safe function; `segment` keeps `word` mapped while the thread may park on it.
  CallbackThread(const Napi::CallbackInfo& info, size_t callback_index, const std::string& owner, const char* resource,
                 std::atomic<int32_t>* word, std::shared_ptr<Mapping> segment)
      : word_(word), mapping_(std::move(segment)) {
    Napi::Env env = info.Env();
    if (!info[callback_index].IsFunction()) throw Napi::TypeError::New(env, owner + " callback must be a function");
    // At environment teardown Node may finalize the function before this object: Stop() must then
    // leave it alone, so the function's finalizer tells us.
    std::shared_ptr<std::atomic<bool>> finalized = finalized_;
    callback_ = Napi::ThreadSafeFunction::New(env, info[callback_index].As<Napi::Function>(), resource, 0, 1,
                                              [finalized](Napi::Env) { finalized->store(true); });
    callback_.Unref(env);
    owner_pid_ = getpid();
    // At teardown Node deletes every thread-safe function while our thread may still call it
    // (a SIGABRT in uv_mutex_lock): this hook, added after the function's own, runs before it.
    env_ = env;
    if (napi_add_env_cleanup_hook(env, StopAtTeardown, this) == napi_ok) hooked_ = true;
  }

  ~CallbackThread() {
    if (hooked_) napi_remove_env_cleanup_hook(env_, StopAtTeardown, this);
    Stop();
  }

  // Called once, last in the owner's constructor: `loop` may use everything the owner holds.
  template <typename Loop>
  void Start(Loop loop) {
    thread_ = std::thread([this, loop] {
      loop();
      exited_.store(true);
    });
    CountWatcherThread(1);
  }

  bool stopping() const { return stopping_.load(); }
  std::mutex& mutex() { return mutex_; }
  std::condition_variable& work_cv() { return work_cv_; }

  // Work is coming: the callback keeps the event loop alive until Unref().
  void Ref(Napi::Env env) { callback_.Ref(env); }
  void Unref(Napi::Env env) {
    if (!stopping_) callback_.Unref(env);  // once stopped, the function may be released
  }
  void Call() { callback_.NonBlockingCall(); }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (getpid() != owner_pid_) {
      // A fork child inherits this object but not its thread: nothing to wake or join, and the
      // thread-safe function belongs to the parent's loop.
      if (thread_.joinable()) thread_.detach();
      return;
    }
    if (thread_.joinable()) {
      // Taken once so the thread is either before its look at stopping() or parked on work_cv().
      {
        std::lock_guard<std::mutex> lock(mutex_);
      }
      work_cv_.notify_one();
      JoinWatcherThread(thread_, exited_, word_);
      CountWatcherThread(-1);
    }
    if (!finalized_->load()) callback_.Release();
  }

 private:
  static void StopAtTeardown(void* self) {
    auto* thread = static_cast<CallbackThread*>(self);
    thread->hooked_ = false;
    thread->Stop();
  }

  napi_env env_ = nullptr;
  bool hooked_ = false;
  std::atomic<int32_t>* word_;
  std::shared_ptr<Mapping> mapping_;
  Napi::ThreadSafeFunction callback_;
  std::shared_ptr<std::atomic<bool>> finalized_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  pid_t owner_pid_ = 0;
};

// The SemLock and ring watchers: after arm([expected]) from JS, the thread waits in
// Derived::WaitUntilReady(expected) and then calls the callback on the JS thread.
// Derived::WaitUntilReady must return when stopping() turns true (it is woken on `word`).
template <typename Derived>
class WatcherThread : public Napi::ObjectWrap<Derived> {
 public:
  static Napi::Function DefineWatcher(Napi::Env env, const char* name) {
    using Method = typename Napi::ObjectWrap<Derived>::InstanceMethodCallback;
    return Napi::ObjectWrap<Derived>::DefineClass(
        env, name,
        {Napi::ObjectWrap<Derived>::InstanceMethod("arm", static_cast<Method>(&WatcherThread::Arm)),
         Napi::ObjectWrap<Derived>::InstanceMethod("idle", static_cast<Method>(&WatcherThread::Idle)),
         Napi::ObjectWrap<Derived>::InstanceMethod("close", static_cast<Method>(&WatcherThread::Close))});
  }

 protected:
  WatcherThread(const Napi::CallbackInfo& info, size_t callback_index, const char* name,
                std::atomic<int32_t>* word, std::shared_ptr<Mapping> segment)
      : Napi::ObjectWrap<Derived>(info), thread_(info, callback_index, name, name, word, std::move(segment)) {
    thread_.Start([this] { RunUntilStopped(); });
  }

  bool stopping() const { return thread_.stopping(); }

 private:
  void RunUntilStopped() {
    std::unique_lock<std::mutex> lock(thread_.mutex());
    for (;;) {
      thread_.work_cv().wait(lock, [this] { return armed_ || thread_.stopping(); });
      if (thread_.stopping()) return;
      armed_ = false;
      const int32_t expected = expected_;
      lock.unlock();
      static_cast<Derived*>(this)->WaitUntilReady(expected);
      if (thread_.stopping()) return;
      thread_.Call();
      lock.lock();
    }
  }

  Napi::Value Arm(const Napi::CallbackInfo& info) {
    if (thread_.stopping()) throw Napi::Error::New(info.Env(), "the watcher is closed");
    const int32_t expected = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    thread_.Ref(info.Env());
    {
      std::lock_guard<std::mutex> lock(thread_.mutex());
      expected_ = expected;
      armed_ = true;
    }
    thread_.work_cv().notify_one();
    return info.Env().Undefined();
  }

  Napi::Value Idle(const Napi::CallbackInfo& info) {
    thread_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    thread_.Stop();
    return info.Env().Undefined();
  }

  bool armed_ = false;
  int32_t expected_ = 0;
  CallbackThread thread_;  // last: destroyed first, it joins the thread before what the thread uses goes
};

void InitWait(Napi::Env env, Napi::Object exports);

}  // namespace mp
