import { describeStoreContract } from "../contract/store-contract.ts";
import { openTestStore } from "./test-database.test-support.ts";

describeStoreContract("PostgresStore (fresh schema per test)", () => openTestStore());
