/**
 * Sign-in and sign-up forms. A sign-up signs in right after, so a new user lands in the shop.
 */
import { busy } from './dom.js';

export function wireAuth({ api, signinForm, signupForm, onSignedIn }) {
  const signinError = signinForm.querySelector('[role="alert"]');
  const signupError = signupForm.querySelector('[role="alert"]');

  signinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const email = signinForm.elements.email.value.trim();
    const password = signinForm.elements.password.value;
    void busy(signinForm, signinError, async () => {
      await api.signIn(email, password);
      signinForm.reset();
      await onSignedIn();
    });
  });

  for (const demo of signinForm.querySelectorAll('[data-demo]')) {
    demo.addEventListener('click', () => {
      const [email, password] = demo.dataset.demo.split(':');
      signinForm.elements.email.value = email;
      signinForm.elements.password.value = password;
      signinForm.requestSubmit();
    });
  }

  signupForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = signupForm.elements;
    const user = { email: f.email.value.trim(), password: f.password.value, name: f.name.value.trim(), role: f.role.value, phone: f.phone.value.trim() };
    void busy(signupForm, signupError, async () => {
      await api.signUp(user);
      await api.signIn(user.email, user.password);
      signupForm.reset();
      await onSignedIn();
    });
  });
}
