package io.cubatch.collate;

/**
 * A batch cannot be collated as asked: a sequence longer than {@code maxlen} with no truncation side, or
 * a value that does not fit the output dtype. The message names the sample, where in it, the value and
 * the fix; the CLI prints it and exits with status 2.
 */
public class CollateException extends IllegalArgumentException {
    /**
     * A collation error with its explanation.
     *
     * @param message what is wrong, where, and the fix
     */
    public CollateException(String message) {
        super(message);
    }
}
