package io.cubatch.collate.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.Optional;

/**
 * libcubatch (native/cubatch.h), loaded once from the jar: every downcall handle in one place, resolved when
 * this class initialises. When the library for this platform is not packaged, cannot be loaded, lacks a
 * symbol or has another ABI version, {@link #get()} is empty and {@link #unavailableReason()} says which.
 * The library stays loaded for the life of the JVM (global arena), like any shared library.
 */
public final class NativeLibrary {
    /** Must equal CB_ABI_VERSION in native/cubatch.h. */
    static final int ABI_VERSION = 3;

    public final MethodHandle pad;
    public final MethodHandle stack;
    /** cb_pack: the CPU twin of cb_pack_kernel. */
    public final MethodHandle pack;
    public final MethodHandle copy;
    /** {@code int32_t cb_struct_layout(int32_t which, int64_t* out, int32_t capacity)}. */
    public final MethodHandle structLayout;

    private static final Object[] LOADED = load();

    private NativeLibrary(MethodHandle pad, MethodHandle stack, MethodHandle pack, MethodHandle copy,
                          MethodHandle structLayout) {
        this.pad = pad;
        this.stack = stack;
        this.pack = pack;
        this.copy = copy;
        this.structLayout = structLayout;
    }

    public static Optional<NativeLibrary> get() {
        return Optional.ofNullable((NativeLibrary) LOADED[0]);
    }

    /** Why the library is not available, or empty when it is. */
    public static String unavailableReason() {
        return (String) LOADED[1];
    }

    /** The resource path of the library for this OS and architecture. */
    static String resourceName() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("linux") ? "linux"
                : System.getProperty("os.name").toLowerCase(Locale.ROOT).replace(' ', '-');
        return "/io/cubatch/native/" + os + "-" + System.getProperty("os.arch") + "/libcubatch.so";
    }

    private static Object[] load() {
        String resource = resourceName();
        URL url = NativeLibrary.class.getResource(resource);
        if (url == null) {
            return new Object[] {null, "no native library packaged for this platform (" + resource.substring(1)
                    + " missing from the jar; the build compiles it with g++ on Linux)"};
        }
        Path file;
        try {
            file = localFile(url);
        } catch (IOException | URISyntaxException e) {
            return new Object[] {null, "could not extract " + resource + ": " + e.getMessage()};
        }
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(file, Arena.global());
        } catch (IllegalArgumentException e) {
            return new Object[] {null, "could not load " + file + ": " + e.getMessage()};
        }
        Linker linker = Linker.nativeLinker();
        try {
            MethodHandle version = downcall(linker, lib, "cb_abi_version", FunctionDescriptor.of(JAVA_INT));
            int v = (int) version.invokeExact();
            if (v != ABI_VERSION) {
                return new Object[] {null, "libcubatch has ABI version " + v + ", this jar needs " + ABI_VERSION
                        + ": rebuild (./test or mvn package) so the jar and the library match"};
            }
            MethodHandle pad = downcall(linker, lib, "cb_pad", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
            MethodHandle stack = downcall(linker, lib, "cb_stack", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
            MethodHandle pack = downcall(linker, lib, "cb_pack", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT,
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            MethodHandle copy = downcall(linker, lib, "cb_copy", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_LONG));
            MethodHandle layout = downcall(linker, lib, "cb_struct_layout",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
            return new Object[] {new NativeLibrary(pad, stack, pack, copy, layout), ""};
        } catch (MissingSymbol e) {
            return new Object[] {null, e.getMessage()};
        } catch (Throwable e) {
            return new Object[] {null, "libcubatch failed its version check: " + e};
        }
    }

    private static final class MissingSymbol extends Exception {
        MissingSymbol(String message) {
            super(message);
        }
    }

    private static MethodHandle downcall(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd)
            throws MissingSymbol {
        return linker.downcallHandle(lib.find(name).orElseThrow(() -> new MissingSymbol(
                "libcubatch lacks the symbol " + name + ": the library is older than this jar; rebuild")), fd);
    }

    /** The library as a file: as is from a classes directory, else extracted once to a temporary file. */
    private static Path localFile(URL url) throws IOException, URISyntaxException {
        if ("file".equals(url.getProtocol())) {
            return Path.of(url.toURI());
        }
        Path tmp = Files.createTempFile("libcubatch", ".so");
        tmp.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }
}
