from django import forms
from django.utils.translation import gettext_lazy as _

from trading.models import AnnouncementKind, SectionState


class SigninForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput)


class OtpForm(forms.Form):
    token = forms.RegexField(
        label=_("动态口令"),
        regex=r"^\d{6}$",
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class AnnouncementFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    kind = forms.ChoiceField(label=_("公告类型"), required=False, choices=[("", _("全部")), *AnnouncementKind.choices])
    region = forms.CharField(label=_("地区"), required=False, max_length=64)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部")), *SectionState.choices])


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class RegistrationForm(forms.Form):
    contact_name = forms.CharField(label=_("联系人"), max_length=100)
    contact_phone = forms.RegexField(label=_("联系电话"), regex=r"^[0-9+\- ]{5,32}$")
