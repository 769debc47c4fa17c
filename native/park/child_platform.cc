// The fork child's V8 platform (child_platform.h): a task queue and the threads that drain it, put
// where V8 posts worker tasks (a platform of its own on V8 11, Node's platform redirected from V8 12).
#include "child_platform.h"

#include <dlfcn.h>
#include <libplatform/libplatform.h>
#include <sys/mman.h>
#include <unistd.h>
#include <v8-version.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace mp {

namespace {

// Worker threads started on demand, up to a maximum, which a nested fork can pause.
class WorkerPool {
 public:
  explicit WorkerPool(int max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}

  int MaxThreads() const { return max_threads_; }

  int StartedThreads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return started_;
  }

  bool Pause(double timeout_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    paused_ = true;
    return idle_.wait_for(lock, std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000)), [this] { return running_ == 0; });
  }

  void Resume() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    work_.notify_all();
  }

  void Post(std::unique_ptr<v8::Task> task, double delay_in_seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (delay_in_seconds > 0)
      delayed_.emplace(Clock::now() + std::chrono::microseconds(static_cast<int64_t>(delay_in_seconds * 1e6)), std::move(task));
    else
      queue_.push_back(std::move(task));
    // A thread more only when none waits: a child that compiles a few functions starts one.
    if (waiting_ == 0 && started_ < max_threads_) {
      started_++;
      std::thread([this] { Work(); }).detach();
    } else {
      work_.notify_one();
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  void Work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (!paused_) {
        while (!delayed_.empty() && delayed_.begin()->first <= Clock::now()) {
          queue_.push_back(std::move(delayed_.begin()->second));
          delayed_.erase(delayed_.begin());
        }
        if (!queue_.empty()) {
          std::unique_ptr<v8::Task> task = std::move(queue_.front());
          queue_.pop_front();
          running_++;
          lock.unlock();
          task->Run();
          task.reset();
          lock.lock();
          if (--running_ == 0) idle_.notify_all();
          continue;
        }
      }
      waiting_++;
      if (!paused_ && !delayed_.empty())
        work_.wait_until(lock, delayed_.begin()->first);
      else
        work_.wait(lock);
      waiting_--;
    }
  }

  const int max_threads_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::unique_ptr<v8::Task>> queue_;
  std::multimap<Clock::time_point, std::unique_ptr<v8::Task>> delayed_;
  int started_ = 0;
  int waiting_ = 0;
  int running_ = 0;
  bool paused_ = false;
};

WorkerPool* installed = nullptr;

#if V8_MAJOR_VERSION < 12

// V8 11 reads its platform through one pointer each time it posts a worker task or makes a job:
// a platform of ours, Node's for everything else.
class ChildPlatform final : public v8::Platform {
 public:
  ChildPlatform(v8::Platform* node, WorkerPool* pool) : node_(node), pool_(pool) {}

  int NumberOfWorkerThreads() override { return pool_->MaxThreads(); }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override { pool_->Post(std::move(task), 0); }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay_in_seconds) override { pool_->Post(std::move(task), delay_in_seconds); }
  std::unique_ptr<v8::JobHandle> CreateJob(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task) override {
    return v8::platform::NewDefaultJobHandle(this, priority, std::move(job_task), static_cast<size_t>(pool_->MaxThreads()));
  }

  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override { return node_->GetForegroundTaskRunner(isolate); }
  v8::PageAllocator* GetPageAllocator() override { return node_->GetPageAllocator(); }
  v8::ZoneBackingAllocator* GetZoneBackingAllocator() override { return node_->GetZoneBackingAllocator(); }
  void OnCriticalMemoryPressure() override { node_->OnCriticalMemoryPressure(); }
  bool IdleTasksEnabled(v8::Isolate* isolate) override { return node_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::ScopedBlockingCall> CreateBlockingScope(v8::BlockingType type) override { return node_->CreateBlockingScope(type); }
  double MonotonicallyIncreasingTime() override { return node_->MonotonicallyIncreasingTime(); }
  int64_t CurrentClockTimeMilliseconds() override { return node_->CurrentClockTimeMilliseconds(); }
  double CurrentClockTimeMillis() override { return node_->CurrentClockTimeMillis(); }
  double CurrentClockTimeMillisecondsHighResolution() override { return node_->CurrentClockTimeMillisecondsHighResolution(); }
  StackTracePrinter GetStackTracePrinter() override { return node_->GetStackTracePrinter(); }
  v8::TracingController* GetTracingController() override { return node_->GetTracingController(); }
  void DumpWithoutCrashing() override { node_->DumpWithoutCrashing(); }
  v8::HighAllocationThroughputObserver* GetHighAllocationThroughputObserver() override { return node_->GetHighAllocationThroughputObserver(); }

 private:
  v8::Platform* const node_;
  WorkerPool* const pool_;
};

bool Redirect(v8::Platform* node, WorkerPool* pool) {
  // v8::internal::V8::SetPlatformForTesting, exported by Node's binary.
  using SetPlatform = void (*)(v8::Platform*);
  auto set_platform = reinterpret_cast<SetPlatform>(dlsym(RTLD_DEFAULT, "_ZN2v88internal2V821SetPlatformForTestingEPNS_8PlatformE"));
  if (set_platform == nullptr) return false;
  set_platform(new ChildPlatform(node, pool));
  return true;
}

#else

// From V8 12 the TurboFan dispatcher and every job hold Node's platform itself, made before any
// code of ours ran, and post through its two virtual worker-task methods. In the child those two
// entries of its vtable (this process's copy-on-write copy) are pointed at the pool: the rest of
// Node's platform is untouched.

// Same calling convention as the virtual methods they replace, `this` first (Itanium C++ ABI).
void PostOnPool(v8::Platform*, v8::TaskPriority, std::unique_ptr<v8::Task> task, const v8::SourceLocation&) { installed->Post(std::move(task), 0); }
void PostDelayedOnPool(v8::Platform*, v8::TaskPriority, std::unique_ptr<v8::Task> task, double delay_in_seconds, const v8::SourceLocation&) {
  installed->Post(std::move(task), delay_in_seconds);
}

// The vtable index of a virtual method, from its member pointer: the Itanium ABI keeps the entry's
// byte offset (+1) in ptr; the ARM variant keeps the offset in ptr and marks virtual in adj's bit 0.
template <typename Member>
bool VtableIndex(Member member, size_t* index) {
  struct Representation {
    uintptr_t ptr;
    ptrdiff_t adj;
  };
  static_assert(sizeof(Member) == sizeof(Representation), "an Itanium-ABI member function pointer");
  Representation repr;
  memcpy(&repr, &member, sizeof repr);
#if defined(__arm__) || defined(__aarch64__)
  if ((repr.adj & 1) == 0) return false;
  *index = repr.ptr / sizeof(void*);
#else
  if ((repr.ptr & 1) == 0) return false;
  *index = (repr.ptr - 1) / sizeof(void*);
#endif
  return true;
}

// Names v8::Platform's protected worker-task methods (never instantiated).
struct WorkerSlots : v8::Platform {
  static bool Indexes(size_t* post, size_t* post_delayed) {
    return VtableIndex(&WorkerSlots::PostTaskOnWorkerThreadImpl, post) && VtableIndex(&WorkerSlots::PostDelayedTaskOnWorkerThreadImpl, post_delayed);
  }
};

bool SetEntry(void** entry, void* value) {
  const uintptr_t page_size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(entry) & ~(page_size - 1));
  // Vtables live in memory made read-only after relocation; each entry is one aligned word.
  if (mprotect(page, page_size, PROT_READ | PROT_WRITE) != 0) return false;
  *entry = value;
  mprotect(page, page_size, PROT_READ);
  return true;
}

bool Redirect(v8::Platform* node, WorkerPool*) {
  size_t post = 0;
  size_t post_delayed = 0;
  if (!WorkerSlots::Indexes(&post, &post_delayed)) return false;
  void** vtable = *reinterpret_cast<void***>(node);
  return SetEntry(&vtable[post], reinterpret_cast<void*>(&PostOnPool)) && SetEntry(&vtable[post_delayed], reinterpret_cast<void*>(&PostDelayedOnPool));
}

#endif

}  // namespace

void InstallChildPlatform(v8::Platform* node, int max_threads) {
  if (node == nullptr || max_threads <= 0) return;
  // A fork of a fork child gets a pool of its own: the copied one counts threads that stayed in
  // its parent, and is left as it is (its queued tasks belong to that parent).
  auto* pool = new WorkerPool(max_threads);
  WorkerPool* previous = installed;
  installed = pool;
  if (!Redirect(node, pool)) {
    installed = previous;
    delete pool;
  }
}

bool PauseChildPlatform(double timeout_ms) { return installed == nullptr || installed->Pause(timeout_ms); }
void ResumeChildPlatform() {
  if (installed != nullptr) installed->Resume();
}
int ChildPlatformThreads() { return installed == nullptr ? 0 : installed->StartedThreads(); }

}  // namespace mp
