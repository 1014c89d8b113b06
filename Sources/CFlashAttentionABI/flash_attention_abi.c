/* The parts of the C ABI that are plain C: version, thread-local error message, status names,
 * descriptor and option initialisers. The attention entry points are implemented in Swift
 * (Sources/FlashAttentionC) with @_cdecl. */
#include "flash_attention_internal.h"

#include <string.h>

int32_t fa_version(void) { return FLASH_ATTENTION_VERSION; }

const char *fa_version_string(void) { return FLASH_ATTENTION_VERSION_STRING; }

/* One buffer per thread, so concurrent callers never see each other's messages and the
 * returned pointer needs no freeing. */
static _Thread_local char fa_error_buffer[2048];

const char *fa_last_error(void) { return fa_error_buffer; }

void fa_internal_clear_error(void) { fa_error_buffer[0] = '\0'; }

void fa_internal_set_error(const char *message) {
    if (message == NULL) {
        fa_error_buffer[0] = '\0';
        return;
    }
    size_t length = strlen(message);
    if (length >= sizeof fa_error_buffer) {
        length = sizeof fa_error_buffer - 1;
        /* Back up over UTF-8 continuation bytes so the message stays valid UTF-8. */
        while (length > 0 && ((unsigned char)message[length] & 0xC0) == 0x80) length--;
    }
    memcpy(fa_error_buffer, message, length);
    fa_error_buffer[length] = '\0';
}

const char *fa_status_name(fa_status status) {
    switch (status) {
    case FA_SUCCESS: return "FA_SUCCESS";
    case FA_ERROR_INVALID_ARGUMENT: return "FA_ERROR_INVALID_ARGUMENT";
    case FA_ERROR_UNSUPPORTED: return "FA_ERROR_UNSUPPORTED";
    case FA_ERROR_DEVICE_UNAVAILABLE: return "FA_ERROR_DEVICE_UNAVAILABLE";
    case FA_ERROR_BACKEND_FAILURE: return "FA_ERROR_BACKEND_FAILURE";
    case FA_ERROR_INTERNAL: return "FA_ERROR_INTERNAL";
    default: return "FA_UNKNOWN_STATUS";
    }
}

fa_status fa_tensor_init(fa_tensor *tensor, void *data, int32_t dtype, int32_t device_type,
                         int32_t device_index, int32_t rank, const int64_t *shape) {
    fa_internal_clear_error();
    if (tensor == NULL) {
        fa_internal_set_error("invalid argument 'tensor': expected a non-NULL fa_tensor pointer");
        return FA_ERROR_INVALID_ARGUMENT;
    }
    if (rank < 0 || rank > FA_MAX_RANK) {
        fa_internal_set_error("invalid argument 'rank': expected 0 ... 8");
        return FA_ERROR_INVALID_ARGUMENT;
    }
    if (rank > 0 && shape == NULL) {
        fa_internal_set_error("invalid argument 'shape': expected a non-NULL pointer to rank sizes");
        return FA_ERROR_INVALID_ARGUMENT;
    }
    memset(tensor, 0, sizeof *tensor);
    tensor->data = data;
    tensor->dtype = dtype;
    tensor->device_type = device_type;
    tensor->device_index = device_index;
    tensor->rank = rank;
    int64_t running = 1;
    for (int32_t axis = rank - 1; axis >= 0; axis--) {
        tensor->shape[axis] = shape[axis];
        tensor->strides[axis] = running;
        /* Size-0 and size-1 axes do not change later strides (as in TensorView). */
        if (shape[axis] > 1) running *= shape[axis];
    }
    return FA_SUCCESS;
}

void fa_options_init(fa_options *options) {
    if (options == NULL) return;
    memset(options, 0, sizeof *options);
    options->struct_size = (uint32_t)sizeof *options;
    options->has_softmax_scale = 0;
    options->softmax_scale = 0.0f;
    options->causal = 0;
    options->window_left = -1;
    options->window_right = -1;
    options->softcap = 0.0f;
    options->alibi_slopes = NULL;
    options->dropout_p = 0.0f;
    options->seed = 0;
    options->deterministic = 1;
    options->num_threads = 0;
}
