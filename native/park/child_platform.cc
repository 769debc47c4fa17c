// The fork child's V8 platform (child_platform.h): a task queue and the threads that drain it.
#include "child_platform.h"

#include <libplatform/libplatform.h>

#include <thread>

namespace mp {

int ChildPlatform::StartedThreads() {
  std::lock_guard<std::mutex> lock(mutex_);
  return started_;
}

bool ChildPlatform::Pause(double timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  paused_ = true;
  auto deadline = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000));
  return idle_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

void ChildPlatform::Resume() {
  std::lock_guard<std::mutex> lock(mutex_);
  paused_ = false;
  work_.notify_all();
}

void ChildPlatform::Post(std::unique_ptr<v8::Task> task, double delay_in_seconds) {
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

std::unique_ptr<v8::JobHandle> ChildPlatform::NewJob(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task) {
  return v8::platform::NewDefaultJobHandle(this, priority, std::move(job_task), static_cast<size_t>(max_threads_));
}

void ChildPlatform::Work() {
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

}  // namespace mp
