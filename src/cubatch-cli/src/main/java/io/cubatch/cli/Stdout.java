package io.cubatch.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.Charset;

/**
 * Standard output that stops the command when it cannot be written. {@link PrintWriter} and
 * {@link java.io.PrintStream} swallow write errors (a closed pipe, a full disk) into a flag that nobody reads:
 * {@code cubatch plan --format json | head} then computed for minutes after {@code head} was gone, and
 * {@code > /dev/full} exited 0. Here the first failed write throws {@link WriteFailedException}, which
 * {@link Main} reports on stderr with exit code 1. Output is buffered (8 KiB), so a reader that goes away
 * stops the work within that much output.
 */
final class Stdout {
    private Stdout() {
    }

    /** A write to standard output failed; the message is the system's reason (Broken pipe, No space left ...). */
    static final class WriteFailedException extends UncheckedIOException {
        WriteFailedException(IOException cause) {
            super(cause.getMessage() == null ? cause.toString() : cause.getMessage(), cause);
        }
    }

    /** A PrintWriter over {@code out} (flushed at each line, as System.out) whose writes and flushes throw. */
    static PrintWriter of(OutputStream out, Charset charset) {
        return new PrintWriter(new FailFast(new OutputStreamWriter(out, charset)), true);
    }

    /** The reason to print for {@code e}, or null when neither it nor a cause is a failed write to stdout. */
    static WriteFailedException find(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof WriteFailedException w) {
                return w;
            }
            for (Throwable s : t.getSuppressed()) {
                if (s instanceof WriteFailedException w) {
                    return w;
                }
            }
        }
        return null;
    }

    /** The one line {@link Main} prints when standard output failed. */
    static String message(String command, String reason) {
        return command + ": cannot write to standard output (" + reason + "): stopped; the output is incomplete";
    }

    private static final class FailFast extends Writer {
        private final Writer out;

        FailFast(Writer out) {
            this.out = out;
        }

        @Override
        public void write(char[] buf, int off, int len) {
            try {
                out.write(buf, off, len);
            } catch (IOException e) {
                throw new WriteFailedException(e);
            }
        }

        @Override
        public void write(String s, int off, int len) {
            try {
                out.write(s, off, len);
            } catch (IOException e) {
                throw new WriteFailedException(e);
            }
        }

        @Override
        public void write(int c) {
            try {
                out.write(c);
            } catch (IOException e) {
                throw new WriteFailedException(e);
            }
        }

        @Override
        public void flush() {
            try {
                out.flush();
            } catch (IOException e) {
                throw new WriteFailedException(e);
            }
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException e) {
                throw new WriteFailedException(e);
            }
        }
    }
}
