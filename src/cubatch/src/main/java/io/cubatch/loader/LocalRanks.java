package io.cubatch.loader;

import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.store.SampleStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Several ranks of one plan in one process, each on its own GPU (per-rank scatter): rank
 * {@code firstRank + i} runs a {@link BatchLoader} in device mode on {@code devices[i]}, with its own ring,
 * workers and stream per slot, and the ranks are stepped together: each step yields every rank's batch of
 * that step, already on that rank's GPU. Each rank sends only its own shard's real tokens (or indices,
 * resident) from pinned staging to its own GPU, in parallel with the others, and its tensors are exactly
 * what one process per GPU would collate for that rank from the same plan.
 *
 * <p>Why not pad the global batch once and copy slices to the other GPUs over peer links: each rank's batch
 * has its own length L (its own longest sample), so a global padded batch would be padded to the longest of
 * all ranks and could not be sliced into the per-rank tensors one process per GPU produces; and parallel
 * host-to-device copies use every GPU's own PCIe link, where peer copies from one GPU queue on one.
 */
public final class LocalRanks implements AutoCloseable {
    private final List<BatchLoader> loaders;
    private final int firstRank;
    private final int[] devices;

    private LocalRanks(Builder b) {
        this.firstRank = b.firstRank;
        this.devices = b.devices.clone();
        List<BatchLoader> made = new ArrayList<>();
        try {
            for (int i = 0; i < devices.length; i++) {
                BatchLoader.Builder lb = BatchLoader.builder().store(b.store).plan(b.plan).rank(firstRank + i)
                        .padding(b.padding).backend("cuda").device(devices[i]).prefetch(b.prefetch).workers(b.workers)
                        .bucket(b.bucket);
                if (b.resident) {
                    lb.residentOnDevice(b.residentBudget);
                }
                made.add(lb.build());
            }
        } catch (RuntimeException | Error e) {
            try {
                BatchLoader.closeAll(made);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        this.loaders = List.copyOf(made);
    }

    /**
     * A builder; store, plan, padding and devices are required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The loader of each hosted rank, in rank order.
     *
     * @return an immutable list, one loader per device
     */
    public List<BatchLoader> loaders() {
        return loaders;
    }

    /**
     * The first hosted rank.
     *
     * @return the global rank of {@code devices[0]}
     */
    public int firstRank() {
        return firstRank;
    }

    /**
     * The GPU of each hosted rank.
     *
     * @return a copy of the device ordinals, one per hosted rank
     */
    public int[] devices() {
        return devices.clone();
    }

    /**
     * Epoch {@code e}: each element is one step, a list with every hosted rank's batch of that step in rank
     * order (null for a rank that has no such step: only with {@code RankRemainder.PARTIAL}, where ranks
     * run different step counts). The caller closes each batch.
     *
     * @param e the epoch, at least 0
     * @return the iterator of steps; each list is unmodifiable
     */
    public Iterator<List<Batch>> epoch(long e) {
        List<Iterator<Batch>> its = new ArrayList<>();
        for (BatchLoader l : loaders) {
            its.add(l.epoch(e));
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return its.stream().anyMatch(Iterator::hasNext);
            }

            @Override
            public List<Batch> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("epoch " + e + " has no more steps on ranks " + firstRank + ".."
                            + (firstRank + loaders.size() - 1));
                }
                List<Batch> step = new ArrayList<>(its.size());
                try {
                    for (Iterator<Batch> it : its) {
                        step.add(it.hasNext() ? it.next() : null);
                    }
                } catch (RuntimeException ex) {
                    step.stream().filter(java.util.Objects::nonNull).forEach(Batch::close);
                    throw ex;
                }
                return java.util.Collections.unmodifiableList(step);
            }
        };
    }

    /**
     * Each hosted rank's stats, in rank order.
     *
     * @return one snapshot per rank
     */
    public List<LoaderStats> stats() {
        return loaders.stream().map(BatchLoader::stats).toList();
    }

    /** Closes every rank's loader (each frees its ring and device data); the first failure is thrown. */
    @Override
    public void close() {
        BatchLoader.closeAll(loaders);
    }

    /** Collects the settings of the hosted ranks; {@link #build()} validates them. Not thread-safe. */
    public static final class Builder {
        private SampleStore store;
        private BatchPlan plan;
        private Padding padding;
        private int firstRank;
        private int[] devices;
        private int prefetch = 3;
        private int workers = 1;
        private int bucket;
        private boolean resident;
        private long residentBudget;

        private Builder() {
        }

        /**
         * The samples every rank loads; required. Not closed by the loaders.
         *
         * @param store the store
         * @return this builder
         */
        public Builder store(SampleStore store) {
            this.store = store;
            return this;
        }

        /**
         * The plan the hosted ranks share; required.
         *
         * @param plan the plan, whose world size covers every hosted rank
         * @return this builder
         */
        public Builder plan(BatchPlan plan) {
            this.plan = plan;
            return this;
        }

        /**
         * How batches are padded; required.
         *
         * @param padding the padding
         * @return this builder
         */
        public Builder padding(Padding padding) {
            this.padding = padding;
            return this;
        }

        /**
         * The GPUs of ranks {@code firstRank, firstRank + 1, ...}, one each (the same GPU may serve several).
         *
         * @param devices the CUDA device ordinals, at least one, each at least 0; copied
         * @return this builder
         */
        public Builder devices(int... devices) {
            this.devices = devices.clone();
            return this;
        }

        /**
         * The rank of {@code devices[0]} (default 0): a node's first global rank when nodes each run one process.
         *
         * @param rank the first hosted rank, at least 0
         * @return this builder
         */
        public Builder firstRank(int rank) {
            this.firstRank = rank;
            return this;
        }

        /**
         * Ring slots per rank (default 3).
         *
         * @param slots the slots per rank, at least 1
         * @return this builder
         */
        public Builder prefetch(int slots) {
            this.prefetch = slots;
            return this;
        }

        /**
         * Worker threads per rank (default 1).
         *
         * @param workers the threads per rank, at least 1
         * @return this builder
         */
        public Builder workers(int workers) {
            this.workers = workers;
            return this;
        }

        /**
         * Length bucketing per rank, as {@link BatchLoader.Builder#bucket}.
         *
         * @param windowBatches the window, in batches, 0 for none
         * @return this builder
         */
        public Builder bucket(int windowBatches) {
            this.bucket = windowBatches;
            return this;
        }

        /**
         * Each rank's GPU holds the dataset, as {@link BatchLoader.Builder#residentOnDevice}.
         *
         * @param budgetBytes the most device bytes the dataset may take per GPU
         * @return this builder
         */
        public Builder residentOnDevice(long budgetBytes) {
            this.resident = true;
            this.residentBudget = budgetBytes;
            return this;
        }

        /**
         * Validates the settings and builds one device-mode loader (the {@code cuda} backend) per device; on a failure
         * the loaders already built are closed.
         *
         * @return the ranks; close them to free every loader
         * @throws IllegalArgumentException when a setting is missing or invalid, a rank is outside the plan's world, or
         *     the cuda backend or a device is unavailable
         */
        public LocalRanks build() {
            if (store == null || plan == null || padding == null || devices == null) {
                throw new IllegalArgumentException("local ranks need a store, a plan, a padding and their devices");
            }
            if (devices.length == 0) {
                throw new IllegalArgumentException("no devices: give one GPU per hosted rank");
            }
            for (int d : devices) {
                if (d < 0) {
                    throw new IllegalArgumentException("device " + d + " in " + Arrays.toString(devices) + " is not a GPU"
                            + " number: use 0, 1, ...");
                }
            }
            if (firstRank < 0 || firstRank + devices.length > plan.worldSize()) {
                throw new IllegalArgumentException("ranks " + firstRank + ".." + (firstRank + devices.length - 1)
                        + " (one per device of " + Arrays.toString(devices) + ") do not fit world size "
                        + plan.worldSize() + ": ranks are 0.." + (plan.worldSize() - 1));
            }
            return new LocalRanks(this);
        }
    }
}
