import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { expect, it } from "vitest";
import { dateTime, day, dayInput, dayRange, fromDayInput } from "./dates";

it("writes moments the reader's way, and a dash for none", () => {
  const t = timestampFromDate(new Date(2026, 11, 1, 10, 23));
  expect(day(t, "en-MY")).toBe("1 Dec 2026");
  expect(dateTime(t, "en-GB")).toBe("01/12/2026, 10:23");
  expect(dateTime(undefined)).toBe("—");
});

it("reads and fills date inputs as the reader's days", () => {
  expect(dayInput(fromDayInput("2027-01-15", "noon"))).toBe("2027-01-15");
  expect(dayInput(fromDayInput("2027-01-15", "end"))).toBe("2027-01-15");
  expect(timestampDate(fromDayInput("2027-01-15", "end")!).getHours()).toBe(23);
  expect(fromDayInput("", "noon")).toBeUndefined();
  expect(dayInput(undefined)).toBe("");
});

it("takes a range of days whole: the last day up to the next midnight", () => {
  const { startTime, endTime } = dayRange("2026-12-01", "2026-12-31");
  expect(timestampDate(startTime!).getTime()).toBe(new Date(2026, 11, 1).getTime());
  expect(timestampDate(endTime!).getTime()).toBe(new Date(2027, 0, 1).getTime());
  expect(dayRange("", "")).toEqual({ startTime: undefined, endTime: undefined });
  expect(dayRange("2026-12-01", "").endTime).toBeUndefined();
});
