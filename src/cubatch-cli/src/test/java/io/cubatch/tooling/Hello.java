package io.cubatch.tooling;

/** The stand-in jar's main in {@link CubatchScriptTest}: says it ran, with its arguments. */
public final class Hello {
    private Hello() {
    }

    public static void main(String[] args) {
        System.out.println("hello " + String.join(" ", args));
    }
}
