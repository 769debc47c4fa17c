// Large pool payloads as memfd parcels: the sender copies a view's bytes into a parcel and sends its
// descriptor, the receiver maps it and hands out a Buffer over those very pages (no second copy).
// A parcel is reused once no receiver holds a view of it any more (a count in its first page), so
// the sender writes into pages already in place: on this kind of VM a fresh page costs ~2 µs, and
// a fresh 1 MiB more than copying it twice.
#include "memfd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "memfd_api.h"

namespace mp {
#ifdef __linux__
namespace {

// The parcel's first page is its header; the payload starts page-aligned after it.
constexpr size_t kHead = 4096;
constexpr uint64_t kMagic = 0x6c6563726170706dULL;  // "mpparcel"
// A new parcel's capacity is rounded up to this; a free one is reused for payloads it holds with at
// most a quarter to spare.
constexpr size_t kGrain = 64 << 10;
// Free parcels kept for reuse beyond this are closed (the oldest first); as much for a receiver's
// idle mappings.
constexpr size_t kKeepFreeBytes = 64 << 20;
// Parcels a sender tracks at most: a hold with no pid slot (a receiver that died before it mapped
// the parcel, a fork child beyond the slots) is never reclaimed, and such a parcel is then
// forgotten here (its pages live while someone maps them).
constexpr size_t kMaxTracked = 256;
// Views of parcels a receiver keeps at most: beyond them a payload is copied out and its parcel
// let go at once. A caller may hold its results; and without the park addon's views, Node runs a
// view's finalizer from the event loop, so a caller that loops on blocking calls would keep every
// parcel it was ever sent.
constexpr size_t kMaxViewedBytes = 128 << 20;

constexpr int kHolderSlots = 8;
// MADV_POPULATE_WRITE (Linux 5.14), absent from older headers.
constexpr int kPopulateWrite = 23;

struct Header {
  uint64_t magic;
  int32_t sender_pid;
  // Stored once the payload is in (release), read before it (acquire): the payload's bytes are
  // ordered by it, also for a sender and receiver that are threads of one process.
  std::atomic<uint64_t> length;
  // Holds on the parcel: the receiver's from the send on, then one per view (fork children's
  // copies included); 0: the sender may reuse it.
  std::atomic<uint32_t> holders;
  // The process of each view's hold (0: a free slot). A receiver killed while it holds a view (the
  // workers of a terminated pool) never lets go: a parcel whose every hold has a slot, each of a
  // process that is gone, is reused too. A hold without a slot (on its way to the receiver, or
  // with the slots full) keeps the parcel whatever happens.
  std::atomic<int32_t> holder_pids[kHolderSlots];
};
static_assert(sizeof(Header) <= kHead, "the header fits the parcel's first page");

Header* HeaderOf(uint8_t* base) { return reinterpret_cast<Header*>(base); }

// How a claimed parcel gets its payload. A new one by pwrite: the kernel fills fresh pages in bulk
// (~0.19 ms a MiB here, where copying through the mapping faults each page in: ~0.45 ms). A reused
// one through the sender's mapping, whose page-table entries are made in one call the first time
// (MADV_POPULATE_WRITE: ~0.14 ms a MiB, ~0.31 ms faulting), then are in place (~0.04 ms).
enum class Fill { kWrite, kPopulateAndCopy, kCopy };

struct Parcel {
  int fd;
  uint8_t* base;     // the sender's mapping, kept out of fork children
  size_t capacity;   // payload bytes
  bool populated;    // the payload's page-table entries are in the sender's mapping
  // When its holders may be looked for again (a kill(2) each): not on every send while it is held.
  std::chrono::steady_clock::time_point recheck;
};

// A receiver's mapping of a whole parcel; the parcel is known by its inode, which stays its own
// while the mapping keeps the memfd alive.
struct Mapping {
  uint8_t* base;
  size_t size;
  dev_t device;
  ino_t inode;
};

std::mutex parcels_mutex;
std::vector<Parcel> parcels;                 // this process's, as a sender, oldest first
std::unordered_map<uint8_t*, size_t> views;  // this process's live views: mapping → size
size_t viewed_bytes = 0;
// A receiver's mappings that no view holds, oldest first: a parcel sent again (reused) is read
// through its mapping as it is, not mapped, populated and unmapped once more (~0.1 ms a MiB).
std::vector<Mapping> idle;
size_t idle_bytes = 0;

void Forget(const Parcel& parcel) {
  munmap(parcel.base, kHead + parcel.capacity);
  close(parcel.fd);
}

bool Gone(int32_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

void RecordHolder(Header* header) {
  const int32_t me = getpid();
  for (auto& slot : header->holder_pids) {
    int32_t empty = 0;
    if (slot.compare_exchange_strong(empty, me, std::memory_order_relaxed)) return;
  }
}

void ForgetHolder(Header* header) {
  const int32_t me = getpid();
  for (auto& slot : header->holder_pids) {
    int32_t mine = me;
    if (slot.compare_exchange_strong(mine, 0, std::memory_order_relaxed)) return;
  }
}

// Whether the parcel may be written again: no hold, or only holds of processes that are gone
// (which are then cleared; a held parcel is looked at again 50 ms later at the earliest).
bool IsFree(Parcel& parcel) {
  Header* header = HeaderOf(parcel.base);
  const uint32_t holders = header->holders.load(std::memory_order_acquire);
  if (holders == 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (holders > kHolderSlots || now < parcel.recheck) return false;
  parcel.recheck = now + std::chrono::milliseconds(50);
  uint32_t gone = 0;
  for (auto& slot : header->holder_pids) {
    const int32_t pid = slot.load(std::memory_order_relaxed);
    if (pid == 0) continue;
    if (!Gone(pid)) return false;
    gone++;
  }
  if (gone != holders) return false;
  for (auto& slot : header->holder_pids) slot.store(0, std::memory_order_relaxed);
  header->holders.store(0, std::memory_order_relaxed);
  return true;
}

// A parcel for `length` payload bytes, claimed for one receiver (holders 1), and how to fill it.
// Caller holds the mutex.
Parcel* Claim(Napi::Env env, size_t length, Fill* fill) {
  Parcel* best = nullptr;
  for (Parcel& parcel : parcels)
    if (parcel.capacity >= length && parcel.capacity - length <= length / 4 && (best == nullptr || parcel.capacity < best->capacity) && IsFree(parcel)) best = &parcel;
  if (best != nullptr) {
    HeaderOf(best->base)->holders.store(1, std::memory_order_relaxed);
    *fill = best->populated ? Fill::kCopy : Fill::kPopulateAndCopy;
    best->populated = true;
    return best;
  }
  size_t free_bytes = 0;
  for (Parcel& parcel : parcels)
    if (IsFree(parcel)) free_bytes += parcel.capacity;
  for (auto it = parcels.begin(); it != parcels.end() && (free_bytes > kKeepFreeBytes || parcels.size() >= kMaxTracked);) {
    const bool free = IsFree(*it);
    if (!free && parcels.size() < kMaxTracked) {
      ++it;
      continue;
    }
    if (free) free_bytes -= it->capacity;
    Forget(*it);
    it = parcels.erase(it);
  }
  const size_t capacity = (length + kGrain - 1) / kGrain * kGrain;
  int fd = memfd_create("mpjs-pool-parcel", MFD_CLOEXEC);
  if (fd < 0) ThrowErrno(env, "memfd_create");
  if (ftruncate(fd, static_cast<off_t>(kHead + capacity)) != 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, "ftruncate", err);
  }
  void* mapped = mmap(nullptr, kHead + capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, "mmap", err);
  }
  // A fork child gets its own parcels; it would only copy these page tables, then drop them.
  madvise(mapped, kHead + capacity, MADV_DONTFORK);
  uint8_t* base = static_cast<uint8_t*>(mapped);
  new (base) Header{kMagic, getpid(), {0}, {1}, {}};
  parcels.push_back({fd, base, capacity, false, {}});
  *fill = Fill::kWrite;
  return &parcels.back();
}

// bytesToFd(view): a descriptor of a parcel holding a copy of the view's bytes, counted as held by
// the one receiver it is sent to. The caller closes the descriptor once it is sent.
Napi::Value BytesToFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) ThrowType(env, "bytesToFd: view must be a typed array");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  const size_t length = view.ByteLength();
  uint8_t* base;
  size_t capacity;
  int fd;
  Fill fill;
  {
    std::lock_guard<std::mutex> hold(parcels_mutex);
    Parcel* parcel = Claim(env, length, &fill);
    base = parcel->base;
    capacity = parcel->capacity;
    fd = fcntl(parcel->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      HeaderOf(base)->holders.store(0, std::memory_order_release);
      ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)");
    }
  }
  // Claimed: no other sender writes it until the receiver lets go.
  if (fill == Fill::kWrite) {
    for (size_t done = 0; done < length;) {
      const ssize_t wrote = pwrite(fd, data + done, length - done, static_cast<off_t>(kHead + done));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) {
        const int err = wrote < 0 ? errno : EIO;
        HeaderOf(base)->holders.store(0, std::memory_order_release);
        close(fd);
        ThrowErrno(env, "pwrite", err);
      }
      done += static_cast<size_t>(wrote);
    }
  } else {
    if (fill == Fill::kPopulateAndCopy) madvise(base + kHead, capacity, kPopulateWrite);  // a hint: older kernels fault instead
    std::memcpy(base + kHead, data, length);
  }
  HeaderOf(base)->length.store(length, std::memory_order_release);
  return Napi::Number::New(env, fd);
}

// A parcel's mapping for a receiver: the idle one of this parcel when there is one, else a new one.
Mapping MapParcel(int fd) {
  struct stat status;
  if (fstat(fd, &status) != 0) throw CallFailed(errno, "fstat");
  const size_t size = static_cast<size_t>(status.st_size);
  if (size < kHead) throw std::runtime_error("mapFd: the descriptor is not a pool parcel (" + std::to_string(size) + " bytes)");
  {
    std::lock_guard<std::mutex> hold(parcels_mutex);
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if (it->inode != status.st_ino || it->device != status.st_dev || it->size != size) continue;
      Mapping mapping = *it;
      idle.erase(it);
      idle_bytes -= size;
      madvise(mapping.base, size, MADV_DOFORK);  // a view again: a fork child must have it
      return mapping;
    }
  }
  void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (mapped == MAP_FAILED) throw CallFailed(errno, "mmap");
  return {static_cast<uint8_t*>(mapped), size, status.st_dev, status.st_ino};
}

// The parcel is let go (its sender may reuse it); the mapping is kept idle, out of fork children,
// unless the sender is gone (a terminated pool's worker): no one sends that parcel again.
void LetGo(const Mapping& mapping, bool viewed) {
  Header* header = HeaderOf(mapping.base);
  if (viewed) ForgetHolder(header);
  header->holders.fetch_sub(1, std::memory_order_release);
  if (Gone(header->sender_pid)) {
    munmap(mapping.base, mapping.size);
    return;
  }
  madvise(mapping.base, mapping.size, MADV_DONTFORK);
  std::lock_guard<std::mutex> hold(parcels_mutex);
  idle.push_back(mapping);
  idle_bytes += mapping.size;
  while (idle_bytes > kKeepFreeBytes) {
    munmap(idle.front().base, idle.front().size);
    idle_bytes -= idle.front().size;
    idle.erase(idle.begin());
  }
}

// The receiver's side without JS: fd's parcel, a view of its pages unless a copy is asked for (a
// receiver that never runs finalizers) or the views are at kMaxViewedBytes. Throws CallFailed or
// runtime_error.
MpjsParcel OpenParcel(int fd, bool asked_copy) {
  const Mapping mapping = MapParcel(fd);
  const Header* header = HeaderOf(mapping.base);
  const uint64_t length = header->length.load(std::memory_order_acquire);
  if (header->magic != kMagic || length > mapping.size - kHead) {
    munmap(mapping.base, mapping.size);
    throw std::runtime_error("mapFd: the descriptor is not a pool parcel (bad header)");
  }
  bool copy;
  {
    std::lock_guard<std::mutex> hold(parcels_mutex);
    copy = asked_copy || viewed_bytes + mapping.size > kMaxViewedBytes;
    if (!copy) {
      views.emplace(mapping.base, mapping.size);
      viewed_bytes += mapping.size;
      // The hold the sender made for this receiver becomes this view's.
      RecordHolder(HeaderOf(mapping.base));
    }
  }
  return {mapping.base + kHead, static_cast<size_t>(length), new Mapping(mapping), copy ? 0 : 1};
}

// Lets a parcel OpenParcel gave go: from any thread (a V8 backing store's deleter).
void CloseParcel(void* token, bool viewed) {
  Mapping* mapping = static_cast<Mapping*>(token);
  if (viewed) {
    std::lock_guard<std::mutex> hold(parcels_mutex);
    views.erase(mapping->base);
    viewed_bytes -= mapping->size;
  }
  LetGo(*mapping, viewed);
  delete mapping;
}

void ReleaseView(Napi::Env env, uint8_t*, void* token) {
  const int64_t size = static_cast<int64_t>(static_cast<Mapping*>(token)->size);
  CloseParcel(token, true);
  Napi::MemoryManagement::AdjustExternalMemory(env, -size);
}

// mapFd(fd, copy = false): the parcel's payload as a Buffer over the parcel's own pages (populated
// in one call); the parcel is let go when the Buffer is collected, by a finalizer Node runs from the
// event loop (the park addon's mapParcel lets go at the GC itself). A copy instead (the parcel let go
// at once) when asked for or beyond kMaxViewedBytes of views. The caller closes fd.
Napi::Value MapFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t fd = IntArg(info, 0, "mapFd(fd)");
  if (fd < 0 || fd > INT32_MAX) throw Napi::RangeError::New(env, "mapFd: fd must be a non-negative integer");
  MpjsParcel parcel;
  try {
    parcel = OpenParcel(static_cast<int>(fd), info.Length() > 1 && info[1].ToBoolean().Value());
  } catch (const CallFailed& failed) {
    ThrowErrno(env, failed);
  } catch (const std::runtime_error& refused) {
    throw Napi::Error::New(env, refused.what());
  }
  uint8_t* data = const_cast<uint8_t*>(parcel.data);
  if (!parcel.viewed) {
    Napi::Buffer<uint8_t> bytes = Napi::Buffer<uint8_t>::Copy(env, data, parcel.length);
    CloseParcel(parcel.token, false);
    return bytes;
  }
  const int64_t size = static_cast<int64_t>(static_cast<Mapping*>(parcel.token)->size);
  Napi::MemoryManagement::AdjustExternalMemory(env, size);
  return Napi::Buffer<uint8_t>::New(env, data, parcel.length, ReleaseView, parcel.token);
}

// parcelStats(): { parcels, free, views, idle }: this process's parcels as a sender (tracked,
// reusable), its live views as a receiver and its mappings kept idle.
Napi::Value ParcelStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> hold(parcels_mutex);
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("parcels", Napi::Number::New(env, static_cast<double>(parcels.size())));
  stats.Set("free", Napi::Number::New(env, static_cast<double>(std::count_if(parcels.begin(), parcels.end(), IsFree))));
  stats.Set("views", Napi::Number::New(env, static_cast<double>(views.size())));
  stats.Set("idle", Napi::Number::New(env, static_cast<double>(idle.size())));
  return stats;
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) int mpjs_parcel_open(int fd, int copy, MpjsParcel* out, char* error, size_t error_size) {
  try {
    *out = OpenParcel(fd, copy != 0);
    return 0;
  } catch (const std::exception& failed) {
    snprintf(error, error_size, "%s", failed.what());
    return -1;
  }
}

__attribute__((visibility("default"))) void mpjs_parcel_close(void* token, int viewed) { CloseParcel(token, viewed != 0); }
}

void ParcelsAfterFork() {
  // The only thread here: nothing else holds the mutex. The parent's parcels are not mapped here
  // (MADV_DONTFORK); their descriptors are closed. The views are, and are counted as this child's
  // too, so no sender rewrites a parcel under them while the child may still read it.
  for (const Parcel& parcel : parcels) close(parcel.fd);
  parcels.clear();
  for (const auto& [base, size] : views) {
    HeaderOf(base)->holders.fetch_add(1, std::memory_order_relaxed);
    RecordHolder(HeaderOf(base));
  }
  // Idle mappings are not here either (MADV_DONTFORK).
  idle.clear();
  idle_bytes = 0;
}

void InitMemfd(Napi::Env env, Napi::Object exports) {
  exports.Set("bytesToFd", Napi::Function::New(env, BytesToFd, "bytesToFd"));
  exports.Set("mapFd", Napi::Function::New(env, MapFd, "mapFd"));
  exports.Set("parcelStats", Napi::Function::New(env, ParcelStats, "parcelStats"));
}
#else
void ParcelsAfterFork() {}
void InitMemfd(Napi::Env, Napi::Object) {}
#endif
}  // namespace mp
