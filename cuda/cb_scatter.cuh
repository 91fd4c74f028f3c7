// cb_scatter.cuh: per-rank scatter. A global batch in plan order interleaves the ranks (global slot j
// belongs to rank j % W, as position j / W of that rank's batch). Rank-major order makes each rank's
// shard contiguous: output row o = r * B + i holds global row i * W + r.
#pragma once
#include "cb_common.cuh"

// The global (plan-order) row that rank-major output row `o` takes, for W ranks of B rows each.
CB_HD int64_t cb_scatter_source_row(int64_t o, int64_t world, int64_t local_batch) {
    return (o % local_batch) * world + o / local_batch;
}
