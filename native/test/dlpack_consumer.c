/* A DLPack consumer in C, as a native framework is: it takes a DLManagedTensorVersioned* that cubatch
 * exported (io.cubatch.loader.Batch.toDLPack), checks every field against what the test expects, reads the
 * data of a host tensor, and calls the deleter, on this thread or on a new one the JVM has never seen.
 * Built by native/Makefile (make test) into libdlpack_consumer.so; DLPackTest loads it with FFM.
 *   cc -O2 -std=c11 -fPIC -Wall -Wextra -Werror -shared -pthread -o libdlpack_consumer.so dlpack_consumer.c
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dlpack_abi.h"

/* sizeof and offsetof of the ABI, for the Java side to compare with its StructLayouts. */
void cb_dlpack_layout(int64_t* out) {
  out[0] = (int64_t)sizeof(DLManagedTensorVersioned);
  out[1] = (int64_t)offsetof(DLManagedTensorVersioned, manager_ctx);
  out[2] = (int64_t)offsetof(DLManagedTensorVersioned, deleter);
  out[3] = (int64_t)offsetof(DLManagedTensorVersioned, flags);
  out[4] = (int64_t)offsetof(DLManagedTensorVersioned, dl_tensor);
  out[5] = (int64_t)sizeof(DLTensor);
  out[6] = (int64_t)offsetof(DLTensor, device);
  out[7] = (int64_t)offsetof(DLTensor, ndim);
  out[8] = (int64_t)offsetof(DLTensor, dtype);
  out[9] = (int64_t)offsetof(DLTensor, shape);
  out[10] = (int64_t)offsetof(DLTensor, strides);
  out[11] = (int64_t)offsetof(DLTensor, byte_offset);
}

static int fail(char* msg, int cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)cap, fmt, ap);
  va_end(ap);
  return 1;
}

static void* call_deleter(void* t) {
  DLManagedTensorVersioned* m = (DLManagedTensorVersioned*)t;
  m->deleter(m);
  return NULL;
}

/* Checks t against the expectations; returns 0 and calls the deleter (on a new thread when deleter_thread),
 * or returns 1 with the first mismatch in msg and leaves the deleter to the caller (cb_dlpack_delete).
 * expected_data (host tensors): the bytes the data must hold, expected_bytes of them. */
int cb_dlpack_check(DLManagedTensorVersioned* t, int32_t device_type, int32_t device_id, int32_t ndim, int32_t code,
                    int32_t bits, int32_t lanes, int64_t flags, const int64_t* shape, const void* expected_data,
                    int64_t expected_bytes, int32_t deleter_thread, char* msg, int32_t cap) {
  if (t == NULL) return fail(msg, cap, "tensor is NULL");
  if (t->version.major != DLPACK_MAJOR_VERSION) return fail(msg, cap, "version.major %u, expected 1", t->version.major);
  if (t->version.minor > 1) return fail(msg, cap, "version.minor %u, expected 0 or 1", t->version.minor);
  if (t->deleter == NULL) return fail(msg, cap, "deleter is NULL");
  if ((int64_t)t->flags != flags) return fail(msg, cap, "flags %llu, expected %lld", (unsigned long long)t->flags, (long long)flags);
  const DLTensor* d = &t->dl_tensor;
  if ((int32_t)d->device.device_type != device_type)
    return fail(msg, cap, "device_type %d, expected %d", (int)d->device.device_type, device_type);
  if (d->device.device_id != device_id) return fail(msg, cap, "device_id %d, expected %d", d->device.device_id, device_id);
  if (d->ndim != ndim) return fail(msg, cap, "ndim %d, expected %d", d->ndim, ndim);
  if (d->dtype.code != code || d->dtype.bits != bits || d->dtype.lanes != lanes)
    return fail(msg, cap, "dtype {%u, %u, %u}, expected {%d, %d, %d}", d->dtype.code, d->dtype.bits, d->dtype.lanes,
                code, bits, lanes);
  if (d->byte_offset != 0) return fail(msg, cap, "byte_offset %llu, expected 0", (unsigned long long)d->byte_offset);
  if (ndim > 0 && (d->shape == NULL || d->strides == NULL)) return fail(msg, cap, "shape or strides NULL");
  int64_t elements = 1;
  for (int i = 0; i < ndim; i++) {
    if (d->shape[i] != shape[i]) return fail(msg, cap, "shape[%d] = %lld, expected %lld", i, (long long)d->shape[i], (long long)shape[i]);
    elements *= shape[i];
  }
  int64_t stride = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    if (d->strides[i] != stride) return fail(msg, cap, "strides[%d] = %lld, expected %lld (C order)", i, (long long)d->strides[i], (long long)stride);
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  int64_t bytes = elements * ((bits * lanes + 7) / 8);
  if (elements == 0) {
    if (d->data != NULL) return fail(msg, cap, "data %p for an empty tensor, expected NULL", d->data);
  } else {
    if (d->data == NULL) return fail(msg, cap, "data is NULL for %lld elements", (long long)elements);
    if (expected_data != NULL) {
      if (bytes != expected_bytes) return fail(msg, cap, "%lld data bytes, expected %lld", (long long)bytes, (long long)expected_bytes);
      const unsigned char* p = (const unsigned char*)d->data + d->byte_offset;
      if (memcmp(p, expected_data, (size_t)bytes) != 0) return fail(msg, cap, "data bytes differ from the batch's");
    }
  }
  if (deleter_thread) {
    pthread_t th;
    if (pthread_create(&th, NULL, call_deleter, t) != 0) return fail(msg, cap, "pthread_create failed");
    pthread_join(th, NULL);
  } else {
    call_deleter(t);
  }
  msg[0] = 0;
  return 0;
}

/* Calls the deleter of t: after a failed check, and to test a second call. */
void cb_dlpack_delete(DLManagedTensorVersioned* t) { call_deleter(t); }
