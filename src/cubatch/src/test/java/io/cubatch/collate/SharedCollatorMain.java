package io.cubatch.collate;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Misuse that once crashed the JVM (issue 14, item 1), run in a JVM of its own by SharedCollatorForkedTest:
 * two threads pad through ONE collator, one from a store of 3 samples, the other from a store of millions
 * with indices near its end. Each must get its own correct batch or an IllegalStateException saying the
 * collator is in use; a wrong byte exits 3, another exception 4, a SIGSEGV kills the JVM (exit 134).
 * Prints "ok: P pads, R refused as in use" and exits 0.
 *
 * <p>Arguments: milliseconds to run, backend name.
 */
public final class SharedCollatorMain {
    private static final int BIG = 4_000_000;
    private static final int ROWS = 64;

    private SharedCollatorMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        long millis = Long.parseLong(args[0]);
        String backend = args[1];
        AtomicLong pads = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicReference<String> failure = new AtomicReference<>();
        try (Arena arena = Arena.ofShared(); SampleStore small = SampleStore.of(new int[][] {{7, 8, 9}, {10}, {}});
             Collator c = Backends.create(backend)) {
            // the big store: sample i holds the single value i
            MemorySegment values = arena.allocate(4L * BIG, 4);
            MemorySegment offsets = arena.allocate(8L * (BIG + 1), 8);
            for (int i = 0; i < BIG; i++) {
                values.setAtIndex(ValueLayout.JAVA_INT, i, i);
                offsets.setAtIndex(ValueLayout.JAVA_LONG, i, i);
            }
            offsets.setAtIndex(ValueLayout.JAVA_LONG, BIG, BIG);
            SampleStore big = SampleStore.wrapRagged(DType.INT32, new long[0], values, offsets);
            // different pad values: a collator that shared its pad row between threads would show it
            Padding[] paddings = {Padding.builder().side(PadSide.POST).maxlen(3).value(-1).dtype(DType.INT32).build(),
                Padding.builder().side(PadSide.POST).maxlen(3).value(-2).dtype(DType.INT32).positions(true).build()};
            long deadline = System.nanoTime() + millis * 1_000_000;
            Thread[] threads = new Thread[2];
            for (int k = 0; k < 2; k++) {
                boolean useBig = k == 1;
                threads[k] = new Thread(() -> {
                    SplittableRandom rng = new SplittableRandom(useBig ? 2 : 1);
                    SampleStore store = useBig ? big : small;
                    Padding padding = paddings[useBig ? 1 : 0];
                    int pad = useBig ? -2 : -1;
                    long[] indices = new long[ROWS];
                    PaddedBatch out = PaddedBatch.allocate(Collation.shape(small, new long[ROWS], padding), arena);
                    while (System.nanoTime() < deadline && failure.get() == null) {
                        for (int i = 0; i < ROWS; i++) {
                            indices[i] = useBig ? BIG - 1 - rng.nextInt(1000) : rng.nextInt(3);
                        }
                        try {
                            c.pad(store, indices, padding, out);
                        } catch (IllegalStateException e) {
                            if (!e.getMessage().contains(" is in use by ")) {
                                failure.compareAndSet(null, "4 " + e);
                            }
                            refused.incrementAndGet();
                            continue;
                        } catch (RuntimeException e) {
                            failure.compareAndSet(null, "4 " + e);
                            continue;
                        }
                        pads.incrementAndGet();
                        for (int i = 0; i < ROWS; i++) {
                            long s = indices[i];
                            int[] want = useBig ? new int[] {(int) s, pad, pad} : s == 0 ? new int[] {7, 8, 9}
                                    : s == 1 ? new int[] {10, pad, pad} : new int[] {pad, pad, pad};
                            for (int t = 0; t < 3; t++) {
                                int got = out.data().getAtIndex(ValueLayout.JAVA_INT, 3L * i + t);
                                if (got != want[t]) {
                                    failure.compareAndSet(null, "3 row " + i + " (sample " + s + " of the "
                                            + (useBig ? "big" : "small") + " store), timestep " + t + ": " + got
                                            + ", expected " + want[t]);
                                }
                            }
                        }
                    }
                }, useBig ? "pads-the-big-store" : "pads-the-small-store");
                threads[k].start();
            }
            for (Thread t : threads) {
                t.join();
            }
        }
        if (failure.get() != null) {
            System.out.println("failed: " + failure.get().substring(2) + " (after " + pads + " pads)");
            System.exit(Integer.parseInt(failure.get().substring(0, 1)));
        }
        System.out.println("ok: " + pads + " pads, " + refused + " refused as in use");
    }
}
