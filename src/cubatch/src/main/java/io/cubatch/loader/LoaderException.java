package io.cubatch.loader;

/**
 * A worker failed while preparing a batch: the message says which step, rank and samples, and why; the cause
 * is the original failure (an exception, or an {@link Error} such as the {@link InternalError} of a read from
 * a file that shrank under its mapping). It ends the epoch: see {@link BatchLoader}.
 */
public class LoaderException extends RuntimeException {
    /**
     * A worker's failure, as the consumer sees it.
     *
     * @param message the step, rank and samples, and why
     * @param cause the worker's original failure
     */
    public LoaderException(String message, Throwable cause) {
        super(message, cause);
    }
}
