#ifndef FLASH_ATTENTION_NCCL_SHIM_H
#define FLASH_ATTENTION_NCCL_SHIM_H

/// NCCL's unique id: 128 opaque bytes (NCCL_UNIQUE_ID_BYTES), passed by value to
/// ncclCommInitRank, which Swift cannot express for a dlsym'd pointer without this struct.
typedef struct { char internal[128]; } fa_nccl_unique_id;

/// Calls `ncclCommInitRank` (looked up with dlsym, passed as `function`) with the id by value.
int fa_nccl_comm_init_rank(void *function, void **comm, int nranks, const fa_nccl_unique_id *id, int rank);

#endif
