package io.cubatch.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * The search of the memory probe, apart from the device (pure Java, tested with a simulated memory):
 * doubles the batch from 1 until a trial fails or {@code max} is reached, then halves the gap between the
 * last size that fitted and the first that did not. Assumes that what fits at B fits at every smaller B.
 * About 2 log2(answer) trials.
 */
public final class ProbeSearch {
    private ProbeSearch() {
    }

    /**
     * One trial: a batch size and whether it fitted.
     *
     * @param batch the batch size tried
     * @param fits whether it fitted
     */
    public record Trial(long batch, boolean fits) {
    }

    /**
     * What the search found.
     *
     * @param largest the largest batch size that fitted, 0 when not even 1 did
     * @param trials  every trial, in order
     */
    public record Result(long largest, List<Trial> trials) {
    }

    /**
     * Searches for the largest batch size in {@code [1, max]} that fits.
     *
     * @param max the largest batch size to try, at least 1
     * @param fits the trial: true when a batch of that size fits
     * @return the answer and every trial
     * @throws IllegalArgumentException when {@code max} is below 1
     */
    public static Result largest(long max, LongPredicate fits) {
        if (max < 1) {
            throw new IllegalArgumentException("the largest batch to try must be at least 1, got " + max);
        }
        List<Trial> trials = new ArrayList<>();
        LongPredicate tried = b -> {
            boolean ok = fits.test(b);
            trials.add(new Trial(b, ok));
            return ok;
        };
        if (!tried.test(1)) {
            return new Result(0, List.copyOf(trials));
        }
        long ok = 1;
        long bad = -1;
        while (ok < max) {
            long next = ok > max / 2 ? max : 2 * ok;
            if (tried.test(next)) {
                ok = next;
            } else {
                bad = next;
                break;
            }
        }
        while (bad > 0 && bad - ok > 1) {
            long mid = ok + (bad - ok) / 2;
            if (tried.test(mid)) {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        return new Result(ok, List.copyOf(trials));
    }
}
