package example;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.loader.Batch;
import io.cubatch.loader.BatchLoader;
import io.cubatch.loader.LoaderState;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.plan.RankRemainder;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Iterator;

/** The README's minimal trainer loop: a plan, a batch padded through the native backend, a loader epoch. */
public final class Trainer {
    public static void main(String[] args) {
        BatchPlan plan = BatchPlan.builder().samples(10).batchSize(2).worldSize(4)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.PARTIAL).build();
        StringBuilder rank0 = new StringBuilder();
        for (PlannedBatch b : plan.batches(0)) {
            rank0.append(Arrays.toString(b.samples()));
        }
        check("[0, 4][8]".equals(rank0.toString()), "plan rank 0: " + rank0);
        System.out.println("plan: rank 0 gets " + rank0);

        Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
        try (SampleStore store = SampleStore.of(new int[][] {{1, 2, 3}, {4}, {5, 6}});
             Collator c = Backends.create("native"); Arena arena = Arena.ofConfined()) {
            long[] indices = {0, 1, 2};
            PaddedShape shape = c.shape(store, indices, padding);
            PaddedBatch out = PaddedBatch.allocate(shape, arena);
            c.pad(store, indices, padding, out);
            int[] data = out.data().toArray(ValueLayout.JAVA_INT);
            check(Arrays.equals(data, new int[] {1, 2, 3, 4, 0, 0, 5, 6, 0}), "padded " + Arrays.toString(data));
            System.out.println("pad: native backend " + Arrays.toString(data));

            BatchPlan epochPlan = BatchPlan.builder().samples(store.size()).batchSize(2).worldSize(1)
                    .lastBatch(LastBatch.PARTIAL).build();
            try (BatchLoader loader = BatchLoader.builder().store(store).plan(epochPlan).rank(0).padding(padding)
                    .backend("native").prefetch(2).build()) {
                Iterator<Batch> it = loader.epoch(0);
                int batches = 0;
                String checkpoint = null;
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        batches++;
                        checkpoint = loader.state().toJson();   // stored next to the model's weights
                    }
                }
                check(batches == 2, "loader batches " + batches);
                check(LoaderState.fromJson(checkpoint).consumedSamples() == 3, "checkpoint " + checkpoint);
                System.out.println("loader: " + batches + " batches; checkpoint " + checkpoint);
            }
        }
        System.out.println("trainer: ok");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("unexpected " + what);
        }
    }
}
