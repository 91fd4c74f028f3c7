package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlanExplanation;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.plan.ShuffleOrder;
import io.cubatch.plan.WorldRank;
import java.io.IOException;
import java.io.Writer;

/**
 * The {@code cubatch plan --format json} contract (DESIGN.md): one object with {@code samples, world_size,
 * batch_size, global_batch_size, remainder, last_batch, shuffle, seed, epoch, ranks[{rank, num_samples,
 * batches}], warnings}. Added fields (scripts may rely on them too): {@code resume_at, evaluation,
 * shuffle_algorithm, rank_source, total_repeated, total_dropped}, and per rank {@code steps,
 * full_batches, last_batch_size, repeated, fill_count, dropped}. For batch sizes that change (issue 16):
 * {@code micro_batch_size, grad_accumulation, rampup_batch_size ([start, increment, samples] or null),
 * max_tokens, sort_window, data_parallel_size, tensor_parallel, pipeline_parallel, global_batch_sizes} (one
 * per step: Megatron's current global batch size, or a token plan's rows over all ranks), and per rank
 * {@code micro_batches} (one per step) and {@code global_ranks} (the ranks of its model replica). With
 * tensor or pipeline parallelism {@code world_size} and {@code ranks[].rank} are the data-parallel ones.
 * Written as a stream, so plans with millions of batches need no memory.
 */
final class PlanJson {
    private static final JsonFactory FACTORY = JsonFactory.builder().build();

    private PlanJson() {
    }

    static void write(BatchPlan plan, WorldRank world, Writer out) throws IOException {
        write(plan, world, io.cubatch.plan.DataParallel.of(world, 1, 1), null, out);
    }

    static void write(BatchPlan plan, WorldRank world, io.cubatch.plan.DataParallel dp, io.cubatch.store.SampleStore store,
                      Writer out) throws IOException {
        PlanExplanation explanation = plan.explain();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            g.writeNumberField("samples", plan.samples());
            g.writeNumberField("world_size", plan.worldSize());
            g.writeNumberField("batch_size", plan.batchSize());
            g.writeNumberField("global_batch_size", plan.globalBatchSize());
            writeNullable(g, "remainder", plan.rankRemainder().map(r -> r.cliName()).orElse(null));
            writeNullable(g, "last_batch", plan.lastBatch().map(l -> l.cliName()).orElse(null));
            g.writeBooleanField("shuffle", plan.shuffled());
            if (plan.seed().isPresent()) {
                g.writeNumberField("seed", plan.seed().getAsLong());
            } else {
                g.writeNullField("seed");
            }
            g.writeNumberField("epoch", plan.epoch());
            g.writeNumberField("resume_at", plan.resumeAt());
            g.writeBooleanField("evaluation", plan.evaluation());
            writeNullable(g, "shuffle_algorithm", plan.shuffled() ? ShuffleOrder.ALGORITHM : null);
            g.writeStringField("rank_source", world.source());
            g.writeNumberField("total_repeated", explanation.totalRepeated());
            g.writeNumberField("total_dropped", explanation.totalDropped());
            g.writeNumberField("micro_batch_size", plan.microBatchSize());
            g.writeNumberField("grad_accumulation", plan.gradientAccumulation());
            if (plan.rampUp().isPresent()) {
                io.cubatch.plan.RampUp r = plan.rampUp().get();
                writeLongs(g, "rampup_batch_size", new long[] {r.start(), r.increment(), r.samples()});
            } else {
                g.writeNullField("rampup_batch_size");
            }
            if (plan.maxTokens().isPresent()) {
                g.writeNumberField("max_tokens", plan.maxTokens().getAsLong());
            } else {
                g.writeNullField("max_tokens");
            }
            g.writeNumberField("sort_window", plan.sortWindow());
            g.writeNumberField("data_parallel_size", plan.worldSize());
            g.writeNumberField("tensor_parallel", dp.tensorParallel());
            g.writeNumberField("pipeline_parallel", dp.pipelineParallel());
            g.writeArrayFieldStart("global_batch_sizes");
            for (long s = 0, steps = plan.maxSteps(); s < steps; s++) {
                g.writeNumber(plan.globalBatchSize(s));
            }
            g.writeEndArray();
            g.writeArrayFieldStart("ranks");
            for (PlanExplanation.RankSummary r : explanation.ranks()) {
                if (world.rank().isPresent() && world.rank().getAsInt() != r.rank()) {
                    continue;
                }
                g.writeStartObject();
                g.writeNumberField("rank", r.rank());
                g.writeNumberField("num_samples", r.numSamples());
                g.writeNumberField("steps", r.steps());
                g.writeNumberField("full_batches", r.fullBatches());
                g.writeNumberField("last_batch_size", r.lastBatchSize());
                writeLongs(g, "repeated", r.repeated());
                int fill = 0;
                g.writeArrayFieldStart("batches");
                for (PlannedBatch batch : plan.batches(r.rank())) {
                    g.writeArray(batch.samples(), 0, batch.size());
                    fill = batch.filled();
                }
                g.writeEndArray();
                g.writeNumberField("fill_count", fill);
                g.writeArrayFieldStart("micro_batches");
                for (long s = 0, steps = r.steps(); s < steps; s++) {
                    g.writeNumber(plan.microBatches(r.rank(), s));
                }
                g.writeEndArray();
                int[] replica = dp.globalRanks(r.rank());
                g.writeFieldName("global_ranks");
                g.writeArray(replica, 0, replica.length);
                writeLongs(g, "dropped", r.dropped());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("warnings");
            for (String w : explanation.warnings()) {
                g.writeString(w);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.write(System.lineSeparator());
    }

    private static void writeNullable(JsonGenerator g, String field, String value) throws IOException {
        if (value == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, value);
        }
    }

    private static void writeLongs(JsonGenerator g, String field, long[] values) throws IOException {
        g.writeFieldName(field);
        g.writeArray(values, 0, values.length);
    }
}
