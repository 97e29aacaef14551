"""The checkout's words, in Indonesian (the default) and English."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Lang = Literal["id", "en"]

_TEXT: dict[str, tuple[str, str]] = {
    # key: (Indonesian, English)
    "title": ("Pembayaran", "Payment"),
    "pay_to": ("Pembayaran untuk", "Payment to"),
    "reference": ("No. pesanan", "Order no."),
    "time_left": ("Selesaikan dalam", "Complete within"),
    "valid_until": ("Berlaku sampai {time} WIB", "Valid until {time} WIB (UTC+7)"),
    "time_up": ("Waktu habis", "Time is up"),
    "pick_title": ("Pilih metode pembayaran", "Choose a payment method"),
    "qris": ("QRIS", "QRIS"),
    "qris_pick_hint": (
        "Bayar dengan aplikasi bank atau dompet digital apa pun.",
        "Pay with any banking or e-wallet app.",
    ),
    "qris_hint": (
        "Pindai kode QR ini dengan aplikasi bank atau dompet digital apa pun.",
        "Scan this QR code with any banking or e-wallet app.",
    ),
    "qris_label": ("Kode QRIS untuk pembayaran {amount}", "QRIS code for a payment of {amount}"),
    "save_qr": ("Simpan kode QR", "Save the QR code"),
    "va": ("Virtual Account", "Virtual account"),
    "va_pick_hint": ("Transfer dari rekening bank Anda.", "Transfer from your bank account."),
    "va_hint": (
        "Transfer tepat {amount} ke nomor virtual account {bank} berikut.",
        "Transfer exactly {amount} to this {bank} virtual account number.",
    ),
    "va_number": ("Nomor virtual account", "Virtual account number"),
    "choose_bank": ("Bank", "Bank"),
    "ewallet": ("E-Wallet", "E-wallet"),
    "ewallet_pick_hint": ("Setujui di aplikasi dompet digital Anda.", "Approve in your e-wallet app."),
    "choose_wallet": ("Dompet digital", "Wallet"),
    "ewallet_hint": (
        "Lanjutkan ke {wallet} untuk menyetujui pembayaran.",
        "Continue to {wallet} to approve the payment.",
    ),
    "ewallet_button": ("Bayar dengan {wallet}", "Pay with {wallet}"),
    "continue": ("Lanjutkan", "Continue"),
    "copy": ("Salin", "Copy"),
    "copied": ("Tersalin", "Copied"),
    "waiting": ("Menunggu pembayaran…", "Waiting for your payment…"),
    "no_instructions": (
        "Instruksi pembayaran belum tersedia. Muat ulang halaman ini sebentar lagi.",
        "The payment instructions are not ready yet. Reload this page in a moment.",
    ),
    "paid_title": ("Pembayaran berhasil", "Payment successful"),
    "paid_text": ("Terima kasih, pembayaran Anda sudah kami terima.", "Thank you, we have received your payment."),
    "failed_title": ("Pembayaran gagal", "Payment failed"),
    "failed_text": (
        "Pembayaran ini tidak dapat diselesaikan. Silakan kembali ke merchant untuk mencoba lagi.",
        "This payment could not be completed. Please go back to the merchant to try again.",
    ),
    "expired_title": ("Waktu pembayaran habis", "Payment expired"),
    "expired_text": (
        "Batas waktu pembayaran sudah lewat. Silakan buat pesanan baru di merchant.",
        "The time to pay has run out. Please place a new order with the merchant.",
    ),
    "back_to_merchant": ("Kembali ke {merchant}", "Back to {merchant}"),
    "redirecting": ("Anda akan diarahkan kembali secara otomatis.", "You will be taken back automatically."),
    "not_found_title": ("Pesanan tidak ditemukan", "Order not found"),
    "not_found_text": (
        "Tautan pembayaran ini tidak valid. Periksa kembali tautan dari merchant.",
        "This payment link is not valid. Please check the link the merchant gave you.",
    ),
    "form_expired_title": ("Formulir kedaluwarsa", "This form has expired"),
    "form_expired_text": (
        "Demi keamanan, muat ulang halaman pembayaran lalu coba lagi.",
        "For your security, reload the payment page and try again.",
    ),
    "invalid_choice_title": ("Pilihan tidak valid", "Invalid choice"),
    "invalid_choice_text": ("Pilih metode pembayaran dari daftar.", "Choose a payment method from the list."),
    "back_to_payment": ("Kembali ke pembayaran", "Back to the payment"),
    "sandbox_title": ("Sandbox: simulasikan langkah pelanggan", "Sandbox: simulate the customer's move"),
    "sandbox_pay": ("Bayar", "Pay"),
    "sandbox_fail": ("Gagal", "Fail"),
    "sandbox_expire": ("Kedaluwarsa", "Expire"),
    "sandbox_error": ("Simulasi gagal, coba lagi.", "The simulation failed, try again."),
    "other_language": ("English", "Bahasa Indonesia"),
    "processed_by": ("Diproses oleh gerbang", "Processed by gerbang"),
    "error_no_provider_available": (
        "Metode ini sedang tidak tersedia. Silakan pilih metode lain.",
        "This method is not available right now. Please choose another one.",
    ),
    "error_method_not_allowed": (
        "Metode ini tidak tersedia untuk merchant ini.",
        "This merchant does not accept this method.",
    ),
    "error_channel_required": ("Pilih bank atau dompet digital.", "Choose a bank or a wallet."),
    "error_provider_error": (
        "Penyedia pembayaran sedang mengalami gangguan, sehingga pembayaran ini dibatalkan.",
        "The payment provider had a problem, so this payment was cancelled.",
    ),
    "error_order_not_pending": (
        "Pesanan ini tidak lagi menunggu pemilihan metode pembayaran.",
        "This order no longer takes a payment method choice.",
    ),
    "error_generic": ("Terjadi kesalahan. Silakan coba lagi.", "Something went wrong. Please try again."),
}
ERROR_CODES = frozenset(key.removeprefix("error_") for key in _TEXT if key.startswith("error_")) - {"generic"}


def lang_of(value: str) -> Lang:
    return "en" if value == "en" else "id"


def translator(lang: Lang) -> Callable[..., str]:
    index = 1 if lang == "en" else 0

    def text(key: str, **values: object) -> str:
        phrase = _TEXT[key][index]
        return phrase.format(**values) if values else phrase

    return text


def error_message(lang: Lang, code: str) -> str:
    """A friendly sentence for a service error code; codes without one get a general sentence."""
    return translator(lang)(f"error_{code}" if code in ERROR_CODES else "error_generic")
