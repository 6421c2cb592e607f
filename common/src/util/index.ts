/** Seeded randomness and hashing, sortable id suffixes, process identity checks, did-you-mean suggestions. */
export * from "./random";
export * from "./process";
export * from "./suggest";
export * from "./show";
export * from "./suffix";
