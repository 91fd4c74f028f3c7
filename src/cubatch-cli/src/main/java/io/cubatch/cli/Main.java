package io.cubatch.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code cubatch} command line. Exit codes: 0 success; 2 invalid arguments or input (the message on
 * stderr names the value and the fix; a parse error is one line, see {@link ParseErrors}); 3 the command
 * needs a GPU this machine lacks; 1 an internal error (a bug: please report it), or standard output could not
 * be written (a closed pipe, a full disk: see {@link Stdout}).
 */
@Command(name = "cubatch", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "GPU batching for JVM trainers: explicit batch plans, padding and collation.",
        subcommands = {RunCommand.class, PlanCommand.class, PadCommand.class, InfoCommand.class, ConvertCommand.class,
                BenchCommand.class,
                ProbeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_INTERNAL = 1;
    public static final int EXIT_USAGE = 2;
    /** The command needs a GPU (or another facility) that this machine lacks; the message says why. */
    public static final int EXIT_UNAVAILABLE = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "a command is required: run, plan, pad, info, bench or probe");
    }

    public static void main(String[] args) {
        PrintWriter out = Stdout.of(new java.io.FileOutputStream(java.io.FileDescriptor.out), System.out.charset());
        System.exit(execute(args, out, new PrintWriter(System.err, true)));
    }

    /**
     * Runs the CLI with the given streams and returns the exit code; used by {@link #main} and tests. A write
     * to {@code out} that fails is exit code 1 with one line on {@code err}: at once when {@code out} throws
     * (as {@link #main}'s does), else when the command ends ({@link PrintWriter#checkError}).
     */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setParameterExceptionHandler(new ParseErrors(err));
        CommandLine.IExecutionStrategy runLast = new CommandLine.RunLast();
        cli.setExecutionStrategy(parseResult -> {
            try {
                return runLast.execute(parseResult);
            } catch (Stdout.WriteFailedException e) {   // printing --help or --version (picocli would dump a trace)
                err.println(Stdout.message(commandName(cli), e.getMessage()));
                err.flush();
                return EXIT_INTERNAL;
            } catch (OutOfMemoryError e) {
                // sizes too large for this heap (a plan's batch of 10^9 samples is an 8 GB array): the user's
                // sizes or the heap, not a bug; picocli hands only Exceptions to the handler below
                err.println(commandName(cli) + ": " + outOfHeap(e));
                err.flush();
                return EXIT_USAGE;
            }
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            String name = commandLine.getCommandSpec().qualifiedName();
            Stdout.WriteFailedException stdout = Stdout.find(ex);
            if (stdout != null) {
                err.println(Stdout.message(name, stdout.getMessage()));
                err.flush();
                return EXIT_INTERNAL;
            }
            for (Throwable t = ex; t != null; t = t.getCause()) {
                if (t instanceof io.cubatch.cuda.CudaException ce && ce.isOutOfMemory()) {
                    // the batch, or the dataset, does not fit the GPU: the user's sizes, not a bug
                    err.println(name + ": " + ex.getMessage());
                    err.flush();
                    return EXIT_USAGE;
                }
            }
            if (ex instanceof io.cubatch.loader.LoaderException le && le.getCause() instanceof IllegalArgumentException) {
                // a worker refused the data or the options (a value that does not fit --dtype, a sequence longer
                // than --maxlen): the user's input, not a bug; the message names step, rank, samples and the fix
                err.println(name + ": " + le.getMessage());
                err.flush();
                return EXIT_USAGE;
            }
            if (ex instanceof IllegalArgumentException || ex instanceof io.cubatch.store.DatasetFormatException
                    || ex instanceof java.nio.file.NoSuchFileException || ex instanceof java.nio.file.AccessDeniedException) {
                String message = ex instanceof java.nio.file.NoSuchFileException nsf
                        ? "no such file: " + nsf.getFile() + (nsf.getReason() == null ? "" : " (" + nsf.getReason() + ")")
                        : ex instanceof java.nio.file.AccessDeniedException ade
                        ? "permission denied: " + ade.getFile() : ex.getMessage();
                err.println(name + ": " + message);
                err.flush();
                return EXIT_USAGE;
            }
            err.println(name + ": internal error: " + ex + " (this is a bug; set CUBATCH_DEBUG=1 for the stack trace)");
            if (System.getenv("CUBATCH_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            err.flush();
            return EXIT_INTERNAL;
        });
        int code;
        try {
            code = cli.execute(args);
            out.flush();
        } catch (Stdout.WriteFailedException e) {      // while printing help or usage, or at the last flush
            err.println(Stdout.message(commandName(cli), e.getMessage()));
            err.flush();
            return EXIT_INTERNAL;
        }
        if (out.checkError()) {                        // a PrintWriter that keeps its errors to itself
            err.println(Stdout.message(commandName(cli), "the stream reported an error"));
            err.flush();
            return EXIT_INTERNAL;
        }
        return code;
    }

    /** The one-line message for an {@link OutOfMemoryError}: the heap there is, and the two ways out. */
    static String outOfHeap(OutOfMemoryError e) {
        long max = Runtime.getRuntime().maxMemory();
        return "out of Java heap (" + e.getMessage() + "; this JVM may use " + (max == Long.MAX_VALUE ? "no set limit"
                : (max >> 20) + " MiB") + "): the sizes given need more memory than that (a batch's sample indices take"
                + " 8 bytes each): use smaller sizes (--batch-size, --samples, --max-tokens), or more heap, e.g."
                + " JAVA_TOOL_OPTIONS=-Xmx16g";
    }

    /** "cubatch CMD" for the command that ran, or "cubatch" before one was parsed. */
    private static String commandName(CommandLine cli) {
        CommandLine.ParseResult r = cli.getParseResult();
        while (r != null && r.subcommand() != null) {
            r = r.subcommand();
        }
        return r == null ? "cubatch" : r.commandSpec().qualifiedName();
    }

    /**
     * {@code cubatch --version}: the POM's version and the git commit the build was made from, read from
     * {@code version.properties}, which the build writes (commit "unknown" outside a git checkout).
     */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            java.util.Properties p = build();
            return new String[] {"cubatch " + p.getProperty("version", "(unknown version)") + " (commit "
                    + p.getProperty("commit", "unknown") + ") on Java " + Runtime.version()};
        }

        /** The version and commit written at build time; empty when the resource is missing. */
        static java.util.Properties build() {
            java.util.Properties p = new java.util.Properties();
            try (java.io.InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            } catch (java.io.IOException e) {
                // left empty: --version then says the version is unknown
            }
            return p;
        }
    }
}
