export * from "./kernel";
export * from "./table";
export * from "./chart";
export * from "./config";
export * from "./progress";
export * from "./dashboard";
