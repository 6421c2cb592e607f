/** Seeded randomness and hashing, process identity checks, did-you-mean suggestions. */
export * from "./random";
export * from "./process";
export * from "./suggest";
export * from "./show";
