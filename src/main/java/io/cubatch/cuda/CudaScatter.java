package io.cubatch.cuda;

import io.cubatch.collate.Padding;
import io.cubatch.store.SampleStore;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-rank scatter in one process with several GPUs: a global batch in plan order (global slot j belongs to
 * rank j % W, as row j / W of that rank's batch, like {@code cb_scatter.cuh} and
 * {@link io.cubatch.collate.Scatter}) becomes one {@link DeviceBatch} per rank, each padded on its own GPU
 * from the rank's own samples: rank r uses {@code collators.get(r % collators.size())}. Each rank's batch is
 * exactly what one process per GPU would collate for that rank from the same plan (same rows, same length
 * L from that rank's own longest sample), so switching between the two layouts changes no tensor.
 */
public final class CudaScatter {
    private CudaScatter() {
    }

    /** The rows of rank {@code rank}: {@code global[rank], global[rank + W], ...}. */
    public static long[] shard(long[] global, int world, int rank) {
        if (world < 1 || global.length % world != 0) {
            throw new IllegalArgumentException("a global batch of " + global.length + " samples does not split over "
                    + world + " ranks: the global batch size must be a multiple of the world size");
        }
        if (rank < 0 || rank >= world) {
            throw new IllegalArgumentException("rank " + rank + " is outside 0.." + (world - 1));
        }
        long[] out = new long[global.length / world];
        for (int i = 0; i < out.length; i++) {
            out[i] = global[i * world + rank];
        }
        return out;
    }

    /**
     * Pads every rank's shard on its GPU. The caller closes each batch; on failure the batches made so far
     * are closed before the exception propagates.
     *
     * @throws IllegalArgumentException when a collator has fewer free ring slots than ranks it serves
     *                                  (checked before anything is sent)
     */
    public static List<DeviceBatch> scatter(List<CudaCollator> collators, SampleStore store, long[] global, int world,
                                            Padding padding) {
        if (collators.isEmpty()) {
            throw new IllegalArgumentException("no collators: pass one per GPU");
        }
        // every rank's batch holds a ring slot until the caller closes it, so each collator needs a free slot
        // per rank it serves, up front: otherwise the scatter would wait for a slot nobody can release
        for (int c = 0; c < collators.size(); c++) {
            int ranks = world / collators.size() + (c < world % collators.size() ? 1 : 0);
            SlotPool slots = collators.get(c).slots();
            int free = slots.size() - slots.inUse();
            if (ranks > free) {
                throw new IllegalArgumentException(world + " ranks over " + collators.size() + " GPU(s) put " + ranks
                        + " ranks' batches on the collator of device " + collators.get(c).context().ordinal() + ", which"
                        + " has " + free + " free ring slot(s) of " + slots.size() + ": open the collators with at least"
                        + " ceil(ranks / GPUs) = " + ((world + collators.size() - 1) / collators.size()) + " slots, and"
                        + " close the batches of the previous step first");
            }
        }
        List<DeviceBatch> out = new ArrayList<>(world);
        try {
            for (int r = 0; r < world; r++) {
                out.add(collators.get(r % collators.size()).padOnDevice(store, shard(global, world, r), padding));
            }
            return out;
        } catch (RuntimeException e) {
            for (DeviceBatch b : out) {
                b.close();
            }
            throw e;
        }
    }
}
