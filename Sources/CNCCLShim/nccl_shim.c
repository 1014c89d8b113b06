#include "nccl_shim.h"

typedef int (*fa_comm_init_rank_fn)(void **, int, fa_nccl_unique_id, int);

int fa_nccl_comm_init_rank(void *function, void **comm, int nranks, const fa_nccl_unique_id *id, int rank) {
    return ((fa_comm_init_rank_fn)function)(comm, nranks, *id, rank);
}
