package io.cubatch.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * libcubatch's {@code cb_ceiling_pad} (native/cubatch.h), the C ceiling of {@link HonestCase}, looked up by the
 * benchmarks themselves: the library as the jar packages it, not through the native backend's internals.
 */
final class CeilingLibrary {
    private CeilingLibrary() {
    }

    /** {@code int32_t cb_ceiling_pad(values, src_size, offsets, indices, batch, L, dst_size, out, lengths, mask, threads)}. */
    static final MethodHandle CEILING_PAD;
    /**
     * The same as a critical downcall, for the batches the native backend pads through its critical handle
     * (below NativeCollator's CRITICAL_BYTES of output data, on one thread): a ceiling may not pay a transition
     * the backend skips.
     */
    static final MethodHandle CEILING_PAD_CRITICAL;

    static {
        MemorySegment symbol = load();
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG,
                JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT);
        CEILING_PAD = Linker.nativeLinker().downcallHandle(symbol, fd);
        CEILING_PAD_CRITICAL = Linker.nativeLinker().downcallHandle(symbol, fd, Linker.Option.critical(false));
    }

    /** Where the native backend switches to its critical handle: the ceiling switches at the same size. */
    static final long CRITICAL_BYTES = io.cubatch.collate.internal.NativeCollator.CRITICAL_BYTES;

    /** cb_ceiling_pad in libcubatch, loaded once. */
    private static MemorySegment load() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("linux") ? "linux"
                : System.getProperty("os.name").toLowerCase(Locale.ROOT).replace(' ', '-');
        String arch = switch (System.getProperty("os.arch")) {   // the jar's folder names (NativeLibrary's)
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> System.getProperty("os.arch");
        };
        String resource = "/io/cubatch/native/" + os + "-" + arch + "/libcubatch.so";
        URL url = CeilingLibrary.class.getResource(resource);
        if (url == null) {
            throw new IllegalStateException("no " + resource.substring(1) + " in the jar: the C ceiling needs libcubatch");
        }
        try {
            Path file;
            if ("file".equals(url.getProtocol())) {
                file = Path.of(url.toURI());
            } else {
                file = Files.createTempFile("libcubatch-ceiling", ".so");
                file.toFile().deleteOnExit();
                try (InputStream in = url.openStream()) {
                    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            SymbolLookup lib = SymbolLookup.libraryLookup(file, Arena.global());
            return lib.find("cb_ceiling_pad").orElseThrow(
                    () -> new IllegalStateException("libcubatch has no cb_ceiling_pad: rebuild"));
        } catch (IOException | java.net.URISyntaxException e) {
            throw new IllegalStateException("could not load " + resource + ": " + e, e);
        }
    }
}
