package io.cubatch.loader;

/** A worker failed while preparing a batch; the message says which step, rank and samples, the cause why. */
public class LoaderException extends RuntimeException {
    public LoaderException(String message, Throwable cause) {
        super(message, cause);
    }
}
