package io.cubatch.loader;

/**
 * A checkpoint of a loader: enough to continue with exactly the batches an uninterrupted loader would
 * have produced. Three numbers, so it fits any checkpoint format.
 *
 * @param epoch           the epoch in progress
 * @param consumedSamples samples of the epoch's global order handed out (BatchPlan.consumedAfter)
 * @param planHash        BatchPlan.configHash of the plan that produced them; a resume with another
 *                        configuration is refused
 */
public record LoaderState(long epoch, long consumedSamples, long planHash) {
}
