package io.cubatch.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;

/**
 * Parse errors as one line on stderr, exit code 2:
 * <pre>cubatch CMD: &lt;option&gt; &lt;value&gt;: &lt;what is wrong, what the option takes&gt;; see cubatch CMD --help</pre>
 * No usage dump: the line names the option, the value and the range, and {@code --help} has the rest. What an
 * option takes comes from its converter ({@link Ranges.Expected}), else from its type.
 */
final class ParseErrors implements CommandLine.IParameterExceptionHandler {
    private final PrintWriter err;

    ParseErrors(PrintWriter err) {
        this.err = err;
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        String name = cl.getCommandSpec().qualifiedName();
        err.println(name + ": " + detail(ex, cl, args) + "; see " + name + " --help");
        err.flush();
        return Main.EXIT_USAGE;
    }

    private static String detail(ParameterException ex, CommandLine cl, String[] args) {
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String arg = u.getUnmatched().get(0);
            if (!cl.getSubcommands().isEmpty() && cl.getCommandSpec().parent() == null && !arg.startsWith("-")) {
                return arg + ": unknown command: choose " + commands(cl);
            }
            if (arg.startsWith("-")) {
                List<String> suggestions = u.getSuggestions();
                return arg + ": unknown option" + (suggestions.isEmpty() ? ""
                        : " (did you mean " + String.join(" or ", suggestions.subList(0, Math.min(3, suggestions.size())))
                        + "?)");
            }
            return arg + ": unexpected argument: " + cl.getCommandName() + " takes options only";
        }
        if (ex instanceof CommandLine.MissingParameterException m && !m.getMissing().isEmpty()) {
            boolean noValue = String.valueOf(m.getMessage()).startsWith("Missing required parameter for option");
            List<String> parts = new ArrayList<>();
            for (ArgSpec a : m.getMissing()) {
                parts.add(label(a) + (noValue ? " needs a value: " : " is required: ") + expected(a));
            }
            return String.join("; ", parts);
        }
        if (ex instanceof CommandLine.OverwrittenOptionException o) {
            String again = secondValue(o.getOverwritten(), args);
            return label(o.getOverwritten()) + (again == null ? "" : " " + again) + ": given more than once: give it once";
        }
        ArgSpec spec = ex.getArgSpec();
        if (spec instanceof OptionSpec && ex.getValue() != null) {
            String head = label(spec) + " " + ex.getValue() + ": ";
            if (ex.getCause() instanceof CommandLine.TypeConversionException t && ours(spec)) {
                return head + t.getMessage();   // our converters say what is wrong and the range
            }
            return head + "not " + article(spec) + ": expected " + expected(spec);
        }
        return String.valueOf(ex.getMessage());
    }

    /** The value of the second occurrence of option {@code a} in {@code args}, or null. */
    private static String secondValue(ArgSpec a, String[] args) {
        if (!(a instanceof OptionSpec o)) {
            return null;
        }
        int seen = 0;
        for (int i = 0; i < args.length; i++) {
            for (String n : o.names()) {
                if (args[i].equals(n) || args[i].startsWith(n + "=")) {
                    if (++seen == 2) {
                        return args[i].equals(n) ? (i + 1 < args.length ? args[i + 1] : null)
                                : args[i].substring(n.length() + 1);
                    }
                }
            }
        }
        return null;
    }

    private static boolean ours(ArgSpec a) {
        CommandLine.ITypeConverter<?>[] converters = a.converters();
        return converters != null && java.util.Arrays.stream(converters).anyMatch(c -> c instanceof Ranges.Expected);
    }

    /** What {@code a} takes: its converter's range, else its type's. */
    static String expected(ArgSpec a) {
        CommandLine.ITypeConverter<?>[] converters = a.converters();
        if (converters != null) {
            for (CommandLine.ITypeConverter<?> c : converters) {
                if (c instanceof Ranges.Expected e) {
                    return e.expected();
                }
            }
        }
        Class<?> t = a.type();
        if (t.isEnum()) {
            StringJoiner j = new StringJoiner(", ", "one of ", "");
            for (Object c : t.getEnumConstants()) {
                j.add(((Enum<?>) c).name().toLowerCase(Locale.ROOT));
            }
            return j.toString();
        }
        if (t == int.class || t == Integer.class) {
            return "an integer in [" + Integer.MIN_VALUE + ", " + Integer.MAX_VALUE + "]";
        }
        if (t == long.class || t == Long.class) {
            return "an integer in [" + Long.MIN_VALUE + ", " + Long.MAX_VALUE + "]";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
            return "a number such as 0, -1, 0.5 or 1e-3";
        }
        if (t == java.nio.file.Path.class || t == java.io.File.class) {
            return "a path";
        }
        return a.paramLabel();
    }

    private static String article(ArgSpec a) {
        Class<?> t = a.type();
        if (t.isEnum()) {
            return "a choice";
        }
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
            return "an integer";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
            return "a number";
        }
        return "valid";
    }

    private static String label(ArgSpec a) {
        return a instanceof OptionSpec o ? o.longestName() : a.paramLabel();
    }

    private static String commands(CommandLine cl) {
        List<String> names = new ArrayList<>(cl.getSubcommands().keySet());
        names.remove("help");
        return names.size() < 2 ? String.join("", names)
                : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
    }
}
