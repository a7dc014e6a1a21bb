// A business signed up in the console, as its owner does it on the sign-in page.

/** Signs `shop` up from the page at the console's root, and waits until its owner is signed in. */
export async function signUp(page, shop) {
  await page.getByRole("button", { name: "New here? Sign up your business" }).click();
  await page.getByLabel("Business name").fill(shop.business);
  await page.getByLabel("Your name").fill(shop.name);
  await page.getByLabel("Email").fill(shop.email);
  await page.getByLabel("Password").fill(shop.password);
  await page.getByRole("button", { name: "Create the workspace" }).click();
  await page.getByRole("heading", { name: "My day" }).waitFor();
}
